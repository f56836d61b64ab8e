# Answers to frequent questions (English, the reference locale).
# One message per FAQ intent: the key is `faq-` and the intent name with dashes
# (see locales/*/intents.toml for the intents). No variables. The bot asks
# "Did this help?" after each answer, so the answers do not ask it themselves.
# Answers for intents that start a request (tracking, refunds, payment problems, complaints,
# handoff, feedback) are shown as suggestions inside that request.
# Operators: the figures below (14 days, 3–10 business days, 8:00–22:00) are examples;
# change them to your store's real policy in every locale.

faq-cancel-order =
    You can cancel an order until it is handed to the courier:
    1. Open "My orders" and pick the order.
    2. Tap "Cancel order" and choose a reason.
    If the order is already on its way, the button is gone: refuse the parcel at delivery or return it after it arrives. The money goes back to the card you paid with.
faq-change-order =
    While an order is still being packed you can change it:
    1. Open "My orders" and pick the order.
    2. Tap "Change" to remove items, change the quantity, size or colour.
    To add an item, place a new order: the two may arrive together. Once the order has shipped it can no longer be changed.
faq-change-shipping-address =
    To send an order to a different address:
    1. Open "My orders" and pick the order.
    2. Tap "Delivery address" and choose or enter the new one.
    This works until the order leaves the warehouse. After that, ask the courier to redirect it using the tracking link, or write to us here.
faq-check-cancellation-fee =
    Cancelling an order before it ships is free, and you get the full amount back.
    If you refuse a parcel at delivery or return it unopened, we deduct only the return shipping cost shown in the order details.
    Subscriptions can be cancelled at any time in "Profile" → "Subscriptions"; there is no early termination fee.
faq-check-invoice =
    Your invoices are in "My orders": open the order and tap "Documents" to see the invoice with its number, items and amounts.
    All invoices are also listed in "Profile" → "Documents", where you can search by invoice or order number.
faq-check-payment-methods =
    We accept bank cards (Visa, Mastercard, Mir, UnionPay), Apple Pay, Google Pay, the fast payment system (SBP), and gift cards.
    For many items you can also pay on delivery or split the payment into instalments: the available options are shown at checkout.
faq-check-refund-policy =
    You can return most items within 14 days of delivery if they are unused and in their original packaging; faulty items can be returned within the warranty period.
    Some goods (underwear, cosmetics, digital products) cannot be returned unless they are faulty.
    After we accept a return, the money goes back to the original payment method within 3 to 10 business days, depending on your bank.
faq-complaint =
    We're sorry something went wrong. Tell us what happened, with the order number and photos if you have them, and we'll pass your complaint to a senior member of our team. Complaints are reviewed first.
faq-contact-customer-service =
    You're already talking to our support: you can write here at any time.
    Our team answers in this chat every day from 8:00 to 22:00; outside those hours your message waits in the queue and we reply in the morning.
    You can also write to us from "Profile" → "Help" in the app.
faq-contact-human-agent =
    I can bring in a person from our team: type /agent or tap "Talk to a person". Your conversation so far goes with you, so you won't need to repeat yourself.
faq-create-account =
    To create an account:
    1. Tap "Sign in" and then "Create account".
    2. Enter your phone number or email and the code we send you.
    3. Add your name, and you're done.
    It's free, and one phone number or email can have one account.
faq-delete-account =
    To delete your account, open "Profile" → "Settings" → "Delete account" and confirm with the code we send you.
    Finish or cancel your open orders first. Deletion is permanent: your order history, bonuses and saved addresses are erased, except the records the law requires us to keep.
faq-delivery-options =
    You can choose at checkout:
    1. Courier to your door, with a delivery time slot.
    2. A pickup point or a parcel locker near you.
    3. Express delivery in large cities.
    We also ship abroad to many countries; the options and prices for your address are shown at checkout.
faq-delivery-period =
    Delivery usually takes 1–3 days in large cities and 3–10 days to other regions. Express delivery arrives the same or the next day.
    The expected date for your address is shown at checkout and in "My orders" once the order ships.
faq-edit-account =
    To change your details, open "Profile" → "Personal data". There you can edit your name, date of birth, email and photo.
    To change your phone number, tap it and confirm the new one with the code we send to it.
faq-get-invoice =
    To get an invoice, open "My orders", pick the order and tap "Documents" → "Download". The invoice comes as a PDF, and you can email it to yourself from the same screen.
    For a company invoice, add your company details in "Profile" → "Documents" before you order.
faq-get-refund =
    To ask for a refund:
    1. Open "My orders" and pick the order.
    2. Tap "Return" and choose the items and the reason; add photos if an item is damaged.
    3. Hand the items in at a pickup point, or wait for the courier.
    If the order never arrived, tell me and I'll start a request for you.
faq-newsletter-subscription =
    To subscribe or unsubscribe, open "Profile" → "Notifications" and switch the newsletter on or off. Every newsletter email also has an "Unsubscribe" link at the bottom.
faq-payment-issue =
    If a payment fails, check that the card has enough money and that online payments are allowed, then try again or pick another payment method.
    If money was taken but the order still shows as unpaid, wait 15 minutes: the status often updates by itself. If it doesn't, send me the order number and I'll check it.
faq-place-order =
    To place an order:
    1. Find the item and tap "Add to cart".
    2. Open the cart and tap "Checkout".
    3. Choose the delivery method and address, then pay.
    You'll see the order in "My orders" straight away.
faq-recover-password =
    To reset your password, tap "Sign in" → "Forgot password?" and enter your phone number or email. We'll send a code; enter it and choose a new password.
    If the code doesn't arrive, check the spam folder or try again after a minute.
faq-registration-problems =
    If sign-up fails:
    1. Check that the phone number or email is typed correctly.
    2. If it says the number is already registered, use "Forgot password?" to get into that account.
    3. If the code doesn't arrive, wait a minute and tap "Send again".
    Still stuck? Tell me what error you see and I'll pass it to our team.
faq-review =
    To leave a review, open "My orders", pick the order and tap "Review" next to the item. You can add stars, text and photos.
    To tell us about our service, just write it here: we read every message.
faq-set-up-shipping-address =
    To add an address, open "Profile" → "Addresses" → "Add address", enter it, or pick it on the map, and save. You can keep several addresses and mark one as the default.
    If the address isn't accepted, pick it on the map instead of typing it, and check the postcode.
faq-switch-account =
    To switch accounts, open "Profile", tap "Sign out", and sign in with the other phone number or email.
    In the app you can also tap your name at the top of "Profile" to add a second account and switch between them without signing out.
faq-track-order =
    To see where your order is, open "My orders" and pick the order: you'll see its status and the tracking number.
    If the delivery date has passed, send me the order number and I'll look into it.
faq-track-refund =
    After we accept a return, the refund takes 3 to 10 business days to reach your card, depending on your bank.
    You can follow the refund in "My orders" → the order → "Return". If it's been longer than that, send me the order number and I'll check.
