# Switchboard dialog texts (English, the reference locale).
# Variables: $issue is an issue code (order, payment, account, delivery, return, complaint, other,
# damaged, wrong_item, missing_item, not_as_described, late_delivery, courier, cancellation);
# $kind is a content kind (sticker, voice, audio, video, document, location, contact, poll, other);
# $wait_minutes is -1 when the wait is unknown.

greeting = Hello! I'm the store's support assistant. I can answer common questions, help with an order, or bring in a person from our team.
menu-prompt = What can I help you with? Pick a topic below or just type your question.
help =
    I can help with orders, payments, your account, delivery, returns and refunds.
    Type your question in your own words, or use these commands:
    /menu: show the topics
    /cancel: stop the current request
    /language: change the language
    /agent: talk to a person
unknown-command = I don't know that command. Type /help to see what I can do.
nothing-to-cancel = There is nothing to cancel right now.
cancelled = Okay, I've stopped that request. Nothing was sent to our team.
not-understood = Sorry, I didn't quite get that. Choose a topic below, or ask for a person from our team.
empty-message = Your message looks empty. Please type a few words.
text-too-long = That message is too long for me: please keep it under { $limit } characters, or split it into parts.
unsupported-content = { $kind ->
        [sticker] Nice sticker! I can only read text and photos, though.
        [voice] I can't listen to voice messages yet. Please type your message.
        [audio] I can't play audio files. Please type your message.
        [video] I can't watch videos. Please send a photo or describe the problem in words.
        [location] Thanks, but I don't need a location. Please type your message.
        [contact] Thanks, but I don't need a contact card. Please type your message.
        [poll] I can't take part in polls. Please type your message.
        [document] I can only accept photos (JPEG, PNG, GIF or WebP), not other files.
       *[other] I can't read this kind of message. Please send text or a photo.
    }
photo-too-large = That photo is too large: the limit is { $limit_mb } MB. Please send a smaller picture.
photo-not-an-image = That file doesn't look like a picture. Please send a JPEG, PNG, GIF or WebP photo.
photo-unavailable = We can't accept photos right now. Please describe what you see in words, or send the photo again later.
photo-not-expected = Thanks for the photo. I'll keep it with our conversation, but I'm not asking for one right now.
stale-button = That button belongs to an earlier question.
choices-hint = Reply with the number of your choice.
ask-order-id = { $issue ->
        [payment] Which order is the payment for? Please send the order number, for example { $example }.
        [delivery] Which order are you waiting for? Please send the order number, for example { $example }.
        [late_delivery] Which order are you waiting for? Please send the order number, for example { $example }.
        [return] Which order do you want to return? Please send the order number, for example { $example }.
        [cancellation] Which order do you want to cancel? Please send the order number, for example { $example }.
        [damaged] I'm sorry it arrived like that. Which order is it? Please send the order number, for example { $example }.
        [wrong_item] I'm sorry about the mix-up. Which order is it? Please send the order number, for example { $example }.
       *[other] Please send your order number, for example { $example }.
    } You'll find it in your order confirmation and under "My orders".
order-id-invalid = That doesn't look like an order number. It should look like { $example }. Please check it and send it again.
order-id-accepted = Got it: order { $order_id }.
ask-photo-required = Please send a photo of the item and of the problem. You can send several.
ask-photo-optional = If you have a photo or a screenshot, send it now. If not, press "Skip".
photo-required = I need at least one photo to pass this on. Please send a picture of the item.
photo-received = { $count ->
        [one] Photo received.
       *[other] { $count } photos received.
    } Send more, or press "Done".
ask-more-photos = { $count ->
        [one] You have sent one photo so far.
       *[other] You have sent { $count } photos so far.
    } Send more, or press "Done".
photo-limit-reached = That's { $count } photos, the most I can take for one request.
ask-description = Please describe what happened in a few sentences.
ask-complaint = I'm sorry to hear that. Please tell me what happened, and I'll pass it straight to a senior member of our team.
suggestion-intro = This might solve it right away:
did-it-help = Did this help?
glad-it-helped = Glad I could help!
handoff-queued = I've passed your request to our team. You're number { $position } in line.{ $wait_minutes ->
        [-1] {""}
        [one] {" "}The expected wait is about { $wait_minutes } minute.
       *[other] {" "}The expected wait is about { $wait_minutes } minutes.
    } You can keep writing here: everything goes to your request.
handoff-queued-after-hours = I've passed your request to our team. You're number { $position } in line. Our agents are offline right now and will be back at { $back_at }.
complaint-queued = Your complaint has been passed to our team with high priority. You're number { $position } in line.{ $wait_minutes ->
        [-1] {""}
        [one] {" "}The expected wait is about { $wait_minutes } minute.
       *[other] {" "}The expected wait is about { $wait_minutes } minutes.
    }
already-queued = Your request is already with our team. You're number { $position } in line.
queued-message-added = Thanks, I've added that to your request. An agent will read it.
queue-update = You're number { $position } in line.{ $wait_minutes ->
        [-1] {" "}An agent will be with you as soon as possible.
        [one] {" "}The expected wait is about { $wait_minutes } minute.
       *[other] {" "}The expected wait is about { $wait_minutes } minutes.
    }
queue-update-after-hours = You're number { $position } in line. Our agents are offline right now and will be back at { $back_at }.
request-still-open = Your request is still open with our team. Keep writing here, or withdraw the request if you no longer need help.
request-withdrawn = Your request has been withdrawn.
agent-joined = { $agent } from our support team has joined the conversation.
agent-joined-unnamed = A member of our support team has joined the conversation.
returned-to-queue = Your request is back in the queue. You're number { $position } in line.
ticket-reopened = { $agent } has reopened your request.
ticket-reopened-unnamed = Our support team has reopened your request.
assigned-reminder = { $agent } is handling your request. Just write here.
assigned-reminder-unnamed = Our support team is handling your request. Just write here.
ask-rating = Your request has been resolved. How would you rate our help, from 1 to 5?
rating-invalid = Please choose a rating from 1 to 5.
ask-comment = Thank you for your rating! Would you like to add a comment? Type it, or press "Skip".
thanks-for-rating = Thank you for your feedback!
ask-feedback = We'd love to hear your feedback. What would you like to tell us?
thanks-for-feedback = Thank you! Your feedback has been passed to our team.
choose-language = Choose your language:
language-set = Okay, I'll speak English from now on.
order-id-changed = Okay, I've changed the order number to { $order_id }.
choose-order-problem = What's the problem with order { $order_id }? Choose below, or just describe it in your own words.
clarify = Just to be sure I understood you: which of these is it about?
not-understood-order = Sorry, I didn't quite get that. Please choose what happened with the order, or describe it in a few words.
offer-person = I'm sorry, I still can't work out what you need. Shall I bring in a person from our team? You can also pick a topic from the menu.
you-are-welcome = You're welcome! Write here any time you need help.
no-open-request = I can't see an open request from you in this chat. Tell me what happened, and I'll pass it on or help right away.
group-chat-not-supported = I can only help in a private chat. Please write to me directly.
flood-notice = You're writing faster than I can answer. Everything you send is saved for our team, but I'll pause my replies for a minute. Please wait a moment, then write again.

button-skip = Skip
button-done = Done
button-yes = Yes
button-no = No
button-human = Talk to a person
button-menu = Main menu
button-withdraw = Withdraw request
button-skip-comment = Skip

issue-order = Problem with an order
issue-payment = Payment
issue-account = My account
issue-delivery = Delivery
issue-return = Return or refund
issue-complaint = Complaint
issue-other = Something else
issue-damaged = Damaged item
issue-wrong-item = Wrong item received
issue-missing-item = Item or part missing
issue-not-as-described = Not as described
issue-late-delivery = Late delivery
issue-courier = Courier or pickup point
issue-cancellation = Cancel the order

language-en = English
language-ru = Русский
language-zh = 中文

rating-1 = 1
rating-2 = 2
rating-3 = 3
rating-4 = 4
rating-5 = 5

## Orders (an order source is configured: see docs/order-lookup.md)

order-status-label = { $status ->
        [pending] waiting for payment
        [paid] paid and waiting to be packed
        [packing] being packed
        [shipped] shipped
        [in_transit] on its way
        [ready_for_pickup] ready for pickup
        [delivered] delivered
        [cancelled] cancelled
       *[returned] returned
    }
order-status = Order { $order_id } is { order-status-label }{ $labelled ->
        [1] {" "}(the store says: { $store_label })
       *[0] {""}
    }.
order-tracking = { $has_carrier ->
        [1] Carrier: { $carrier }.
       *[0] Your parcel is on its way.
    }{ $has_number ->
        [1] {" "}Tracking number: { $tracking_number }.
       *[0] {""}
    }{ $has_eta ->
        [1] {" "}Expected delivery: { $eta }.
       *[0] {""}
    }{ $has_url ->
        [1] {" "}Track it here: { $tracking_url }
       *[0] {""}
    }
order-refund = { $known ->
        [1] { $eligible ->
                [1] This order can be refunded{ $has_until ->
                        [1] {" "}until { $until }
                       *[0] {""}
                    }.
               *[0] This order can no longer be refunded.
            }
       *[0] The store has not said whether this order can be refunded.
    }
order-found-for-problem = I found order { $order_id }: it is { order-status-label }.
order-not-found = I couldn't find order { $order_id }. Please check the number (it looks like { $example }) and send it again, or ask for a person.
order-none-for-customer = I can't see any orders in your account. If you have an order number, please send it (it looks like { $example }).
ask-order-verifier = To show this order I need to make sure it's yours. Please send the { $kind ->
        [phone] phone number
       *[email] email address
    } the order was placed with.
order-verifier-invalid = That doesn't look like { $kind ->
        [phone] a phone number
       *[email] an email address
    }. Please send it again, or ask for a person.
order-lookup-limit = Several order numbers in a row didn't match, so to keep everyone's orders private I'll stop checking for now. A person from our team can help you.
order-store-unavailable = Sorry, I can't reach our order system right now, so I can't check your order. Please try again a little later, or ask for a person.
order-not-checked = I couldn't check the order right now, but I'll pass it on with your request.
order-still-checking = I'm still checking your order, one moment please.
account-linked = Your account is connected. I can see your orders now, so just ask "where is my order?".
account-link-invalid = This link has expired or has already been used. Please open a new one from your account page on our site.
## Email: a letter is answered with one letter.
email-received = Thank you for your email: we have received it.
email-received-order = Thank you for your email: we have received it and noted order { $order_id }.
email-reply-human = If this didn't help, reply "human" to this email and a person from our team will answer.
email-added-to-request = Thank you: your email has been added to your request, and the agent will see it.
email-subject-default = Your request
