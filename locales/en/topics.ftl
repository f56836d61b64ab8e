# Short topic labels, one per FAQ intent (see locales/*/intents.toml), shown on the buttons of
# a clarification question when the bot is unsure which of two intents a message means:
# "Is it about <label> or <label>?". The key is `topic-` and the intent name with dashes.
# Keep each label short (about 30 characters at most), with no variables.

topic-cancel-order = Cancelling an order
topic-change-order = Changing an order
topic-change-shipping-address = Changing the delivery address
topic-check-cancellation-fee = Cancellation fees
topic-check-invoice = Viewing an invoice
topic-check-payment-methods = Payment methods
topic-check-refund-policy = The refund policy
topic-complaint = Making a complaint
topic-contact-customer-service = Contacting customer service
topic-contact-human-agent = Talking to a person
topic-create-account = Creating an account
topic-delete-account = Deleting an account
topic-delivery-options = Delivery options
topic-delivery-period = Delivery times
topic-edit-account = Editing account details
topic-get-invoice = Getting an invoice
topic-get-refund = Getting a refund
topic-newsletter-subscription = The newsletter
topic-payment-issue = A payment problem
topic-place-order = Placing an order
topic-recover-password = Recovering a password
topic-registration-problems = Problems signing up
topic-review = Leaving a review
topic-set-up-shipping-address = Adding a delivery address
topic-switch-account = Switching accounts
topic-track-order = Tracking an order
topic-track-refund = Refund status
topic-greeting = Just saying hello
topic-goodbye = Finishing the chat
topic-damaged-item = A damaged item
topic-wrong-item = A wrong item received
topic-missing-item = A missing item
topic-not-as-described = Item not as described
topic-late-delivery = A late delivery
topic-courier-problem = A courier or pickup problem
topic-request-status = My open request
topic-speak-english = Switching to English
topic-speak-russian = Switching to Russian
topic-speak-chinese = Switching to Chinese
