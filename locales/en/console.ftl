# The agent console: pages, notices and errors. Keys start with `console-`; the code lists
# them in src/core/keys.rs (CONSOLE_KEYS) and `switchboard locales check` proves every one
# exists here and in every other language.

console-title = Console
console-skip-to-content = Skip to content
console-signed-in-as = Signed in as
console-sign-out = Sign out
console-channel-down = Channel not connected:
console-back-to-queue = Back to the queue
console-actions = Actions
console-claim = Claim
console-save = Save
console-delete = Delete
console-not-sent = Not sent: the connection failed. Try again.
console-photo-from-customer = Photo from the customer

console-nav-queue = Queue
console-nav-dashboard = Dashboard
console-nav-canned = Canned replies
console-nav-agents = Agents
console-nav-tokens = API tokens
console-nav-profile = Password and profile

## Durations and statuses
console-duration-under-a-minute = under a minute
console-duration-seconds = { $seconds } s
console-duration-minutes = { $minutes } min
console-duration-minutes-seconds = { $minutes } min { $seconds } s
console-duration-hours = { $hours } h { $minutes } min
console-duration-days = { $days } d { $hours } h
console-status-queued = queued
console-status-assigned = assigned
console-status-resolved = resolved

## Sign-in
console-login-title = Sign in
console-login-heading = Switchboard console
console-login-name = Agent name
console-login-password = Password
console-login-submit = Sign in
console-login-wrong = Wrong name or password.
console-login-too-many = Too many sign-in attempts. Wait a minute and try again.

## Password and profile
console-password-heading = Change your password
console-password-must-change = Your password was chosen by someone else. Choose your own before you go on.
console-password-current = Current password
console-password-new = New password (at least 10 characters)
console-password-repeat = New password again
console-password-submit = Change password
console-password-wrong = The current password is wrong.
console-password-differ = The two new passwords differ.
console-password-same = Choose a password different from the current one.
console-password-too-many = Too many attempts. Wait a minute and try again.
console-profile-heading = Languages
console-profile-console-language = Language of the console
console-profile-browser-language = As my browser asks
console-profile-speaks = Languages I answer customers in
console-profile-submit = Save languages
console-profile-saved = Languages saved.

## Notices after an action
console-notice-claimed = You have claimed this ticket.
console-notice-taken = Already taken: { $agent } has this ticket.
console-notice-closed = This ticket is already resolved.
console-notice-replied = Reply sent.
console-notice-resolved = Ticket resolved. The customer is asked for a rating.
console-notice-reopened = Ticket reopened and assigned to you.
console-notice-released = The ticket is back in the queue.
console-notice-transferred = Assigned to { $agent }.
console-notice-noted = Note added.
console-notice-not-yours = Only the agent who holds this ticket, or an admin, can do that. Claim it first.
console-notice-not-allowed = That is not possible in the ticket's current state.
console-notice-empty = Write something first.
console-notice-saved = Saved.
console-notice-no-agent = There is no active agent with that name.
console-notice-agent-exists = An agent with that name already exists.
console-notice-bad-name = Agent names are letters, digits, '.', '-' or '_'.
console-notice-weak-password = Passwords need at least 10 characters.
console-notice-password-changed = Password changed. Your other sessions were signed out.
console-notice-password-reset = New password set for { $agent }, who must choose their own at the next sign-in.
console-notice-agent-disabled = That agent is disabled.

## Errors
console-error-form-expired = Form expired
console-error-form-expired-text = The form was not sent from this console session. Reload the page and try again.
console-error-admins-only = Admins only
console-error-admins-only-text = Only admins may do this.
console-error-not-found = Not found
console-error-not-found-text = There is nothing here.
console-error-too-many-pages = Too many live pages
console-error-too-many-pages-text = Close some console tabs; this one stops updating by itself.
console-error-bad-request = Bad request
console-error-bad-request-text = The request could not be understood.
console-error-internal = Something went wrong
console-error-internal-text = The error was logged. Try again.

## Queue
console-queue-waiting = Waiting ({ $count })
console-queue-empty = Nobody is waiting.
console-queue-page-empty = No more tickets on this page.
console-queue-no-languages = List the languages you speak to filter the queue by them:
console-queue-show-mine = Show only tickets in my languages ({ $languages })
console-queue-showing-mine = Showing tickets in your languages ({ $languages }).
console-queue-show-all = Show all languages
console-queue-ticket = Ticket
console-queue-issue = Issue
console-queue-order = Order
console-queue-language = Language
console-queue-channel = Channel
console-queue-waiting-for = Waiting
console-queue-last-message = Last customer message
console-queue-high = high
console-queue-low-trust = low trust
console-queue-low-trust-why = An anonymous visitor who only asked for a person
console-queue-pages = Waiting list pages
console-queue-previous = Previous
console-queue-next = Next
console-queue-page = Page { $page }
console-queue-assigned-to-you = Assigned to you ({ $count })
console-queue-assigned-to-others = Assigned to others ({ $count })
console-queue-none = None.
console-queue-with-agent = with { $agent }
console-queue-truncated = Only the newest assigned tickets are listed; find others with

## One ticket
console-ticket-title = Ticket #{ $id }
console-ticket-high = high priority
console-ticket-customer = Customer
console-ticket-customer-on = { $customer } on { $channel }
console-ticket-opened = Opened
console-ticket-opened-at = { $at } ({ $waited } ago)
console-ticket-agent = Agent
console-ticket-nobody = nobody yet
console-ticket-description = Description
console-ticket-photos = Photos
console-ticket-photo = Photo attached to the ticket
console-ticket-rating = Rating
console-ticket-resolve = Resolve
console-ticket-assign-to = Assign to
console-ticket-assign = Assign
console-ticket-release = Back to queue
console-ticket-reopen = Reopen
console-ticket-conversation = Conversation
console-ticket-reply-label = Reply to the customer
console-ticket-canned-label = Canned reply ({ $language })
console-ticket-choose = Choose…
console-ticket-send = Send reply
console-ticket-claim-to-reply = Claim the ticket to reply.
console-ticket-notes = Internal notes
console-ticket-notes-hint = Only agents see these.
console-ticket-undelivered = Not delivered
console-ticket-undelivered-hint = The customer did not get these replies. The reason is the platform's answer.
console-ticket-undelivered-bot = (a message from the bot)
console-ticket-note-label = Add a note
console-ticket-add-note = Add note
console-author-customer = Customer
console-author-bot = Bot
console-author-agent = { $agent } (agent)
console-author-system = System

## Dashboard
console-dashboard-last-days = { $days ->
    [one] last day
   *[other] last { $days } days
}
console-dashboard-csv = Download CSV
console-dashboard-tickets = Tickets
console-dashboard-first-response = Median first response
console-dashboard-resolve = Median time to resolve
console-dashboard-rating = Average rating
console-dashboard-self-service = FAQ self-service rate
console-dashboard-none = n/a
console-dashboard-tickets-chart = Tickets per day
console-dashboard-tickets-caption = Tickets created per day (UTC)
console-dashboard-ratings-chart = Rating distribution

## Canned replies
console-canned-empty = No canned replies yet.
console-canned-title = Title
console-canned-text = Text
console-canned-new = New canned reply
console-canned-add = Add

## Agents
console-agents-name = Name
console-agents-role = Role
console-agents-languages = Speaks
console-agents-status = Status
console-agents-admin = Admin
console-agents-agent = Agent
console-agents-active = active
console-agents-disabled = disabled
console-agents-disable = Disable
console-agents-new-password-for = New password for { $agent }
console-agents-reset-password = Reset password
console-agents-must-change = must choose a new password
console-agents-add-heading = Add an agent
console-agents-password = Password (at least 10 characters)
console-agents-add = Add agent

## API tokens
console-tokens-new = New token (shown only now, copy it):
console-tokens-acts-as = Acts as agent
console-tokens-expires = Expires
console-tokens-last-used = Last used
console-tokens-active = active
console-tokens-expired = expired
console-tokens-revoked = revoked
console-tokens-never = never
console-tokens-revoke = Revoke
console-tokens-create-heading = Create a token
console-tokens-expiry = Expires after (days; empty: never)
console-tokens-create = Create token

## Channels
console-channel-telegram = Telegram
console-channel-vk = VK
console-channel-max = MAX
console-channel-ozon = Ozon chat
console-channel-webchat = Web chat
console-channel-terminal = Terminal

## Machine translation
console-translation-hint = Messages are shown in { $language }. Your reply is translated into { $customer } and shown to you before it goes.
console-translation-original = Original ({ $language })
console-translation-unavailable = Translation unavailable: shown as the customer wrote it.
console-translation-received = What the customer received ({ $language })
console-translation-written = As the agent wrote it ({ $language })
console-preview-button = Translate and check
console-preview-title = Check the translation before it goes
console-preview-yours = You wrote
console-preview-translation = The customer will receive ({ $language }); you can change it
console-preview-human = A person's translation from the canned replies: no machine translation was used.
console-preview-unavailable = Translation unavailable. Write the reply in the customer's language here, or send your text as it is.
console-preview-send = Send
console-canned-language-versions = A reply can have a version in each language: add one under the reply. Customers then get their language's version, written by a person, without machine translation.
console-canned-add-version = Add a version in another language
