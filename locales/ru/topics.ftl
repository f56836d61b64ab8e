# Короткие названия тем, по одному на FAQ-намерение (см. locales/*/intents.toml). Они стоят на
# кнопках уточняющего вопроса, когда бот не уверен, какое из двух намерений имеется в виду:
# «Вопрос про <тему> или про <тему>?». Ключ — `topic-` и имя намерения через дефисы.
# Названия короткие (не больше ~30 символов), без переменных.

topic-cancel-order = Отмена заказа
topic-change-order = Изменение заказа
topic-change-shipping-address = Смена адреса доставки
topic-check-cancellation-fee = Плата за отмену
topic-check-invoice = Просмотр счёта
topic-check-payment-methods = Способы оплаты
topic-check-refund-policy = Условия возврата
topic-complaint = Жалоба
topic-contact-customer-service = Связь со службой поддержки
topic-contact-human-agent = Разговор с оператором
topic-create-account = Создание аккаунта
topic-delete-account = Удаление аккаунта
topic-delivery-options = Способы доставки
topic-delivery-period = Сроки доставки
topic-edit-account = Изменение данных аккаунта
topic-get-invoice = Получение счёта
topic-get-refund = Возврат денег
topic-newsletter-subscription = Рассылка
topic-payment-issue = Проблема с оплатой
topic-place-order = Оформление заказа
topic-recover-password = Восстановление пароля
topic-registration-problems = Проблемы с регистрацией
topic-review = Отзыв
topic-set-up-shipping-address = Добавление адреса доставки
topic-switch-account = Смена аккаунта
topic-track-order = Где мой заказ
topic-track-refund = Статус возврата
topic-greeting = Просто приветствие
topic-goodbye = Завершение разговора
topic-damaged-item = Повреждённый товар
topic-wrong-item = Пришёл не тот товар
topic-missing-item = Не хватает товара
topic-not-as-described = Товар не как в описании
topic-late-delivery = Задержка доставки
topic-courier-problem = Курьер или пункт выдачи
topic-request-status = Моё обращение
topic-speak-english = Перейти на английский
topic-speak-russian = Перейти на русский
topic-speak-chinese = Перейти на китайский
