# Консоль операторов: страницы, уведомления и ошибки. Список ключей — в src/core/keys.rs
# (CONSOLE_KEYS); `switchboard locales check` проверяет, что каждый есть во всех языках.

console-title = Консоль
console-skip-to-content = Перейти к содержимому
console-signed-in-as = Вы вошли как
console-sign-out = Выйти
console-channel-down = Канал не подключён:
console-back-to-queue = Вернуться к очереди
console-actions = Действия
console-claim = Взять
console-save = Сохранить
console-delete = Удалить
console-not-sent = Не отправлено: пропало соединение. Попробуйте ещё раз.
console-photo-from-customer = Фото от клиента

console-nav-queue = Очередь
console-nav-dashboard = Сводка
console-nav-canned = Шаблоны ответов
console-nav-agents = Операторы
console-nav-tokens = API-токены
console-nav-profile = Пароль и профиль

## Длительности и статусы
console-duration-under-a-minute = меньше минуты
console-duration-seconds = { $seconds } с
console-duration-minutes = { $minutes } мин
console-duration-minutes-seconds = { $minutes } мин { $seconds } с
console-duration-hours = { $hours } ч { $minutes } мин
console-duration-days = { $days } д { $hours } ч
console-status-queued = в очереди
console-status-assigned = в работе
console-status-resolved = решено

## Вход
console-login-title = Вход
console-login-heading = Консоль Switchboard
console-login-name = Имя оператора
console-login-password = Пароль
console-login-submit = Войти
console-login-wrong = Неверное имя или пароль.
console-login-too-many = Слишком много попыток входа. Подождите минуту и попробуйте снова.

## Пароль и профиль
console-password-heading = Смена пароля
console-password-must-change = Ваш пароль задал кто-то другой. Прежде чем продолжить, придумайте свой.
console-password-current = Текущий пароль
console-password-new = Новый пароль (не короче 10 символов)
console-password-repeat = Новый пароль ещё раз
console-password-submit = Сменить пароль
console-password-wrong = Текущий пароль введён неверно.
console-password-differ = Новые пароли не совпадают.
console-password-same = Новый пароль должен отличаться от текущего.
console-password-too-many = Слишком много попыток. Подождите минуту и попробуйте снова.
console-profile-heading = Языки
console-profile-console-language = Язык консоли
console-profile-browser-language = Как в браузере
console-profile-speaks = На каких языках я отвечаю клиентам
console-profile-submit = Сохранить языки
console-profile-saved = Языки сохранены.

## Уведомления после действий
console-notice-claimed = Обращение теперь ваше.
console-notice-taken = Уже занято: обращением занимается { $agent }.
console-notice-closed = Это обращение уже решено.
console-notice-replied = Ответ отправлен.
console-notice-resolved = Обращение решено. Клиента попросили поставить оценку.
console-notice-reopened = Обращение снова открыто и передано вам.
console-notice-released = Обращение вернулось в очередь.
console-notice-transferred = Передано оператору { $agent }.
console-notice-noted = Заметка добавлена.
console-notice-not-yours = Это может сделать только оператор, у которого обращение, или администратор. Сначала возьмите его.
console-notice-not-allowed = В текущем состоянии обращения это невозможно.
console-notice-empty = Сначала напишите текст.
console-notice-saved = Сохранено.
console-notice-no-agent = Активного оператора с таким именем нет.
console-notice-agent-exists = Оператор с таким именем уже есть.
console-notice-bad-name = Имя оператора может состоять из латинских букв, цифр и знаков «.», «-», «_».
console-notice-weak-password = Пароль должен быть не короче 10 символов.
console-notice-password-changed = Пароль изменён. Остальные ваши сеансы завершены.
console-notice-password-reset = Для { $agent } задан новый пароль; при следующем входе нужно будет придумать свой.
console-notice-agent-disabled = Этот оператор отключён.

## Ошибки
console-error-form-expired = Форма устарела
console-error-form-expired-text = Форма отправлена не из этого сеанса консоли. Обновите страницу и попробуйте ещё раз.
console-error-admins-only = Только для администраторов
console-error-admins-only-text = Это могут делать только администраторы.
console-error-not-found = Не найдено
console-error-not-found-text = Здесь ничего нет.
console-error-too-many-pages = Слишком много открытых страниц
console-error-too-many-pages-text = Закройте несколько вкладок консоли; эта сама перестанет обновляться.
console-error-bad-request = Неверный запрос
console-error-bad-request-text = Не удалось разобрать запрос.
console-error-internal = Что-то пошло не так
console-error-internal-text = Ошибка записана в журнал. Попробуйте ещё раз.

## Очередь
console-queue-waiting = Ожидают ({ $count })
console-queue-empty = Никто не ждёт.
console-queue-page-empty = На этой странице обращений больше нет.
console-queue-no-languages = Укажите языки, на которых вы говорите, чтобы фильтровать по ним очередь:
console-queue-show-mine = Показать только обращения на моих языках ({ $languages })
console-queue-showing-mine = Показаны обращения на ваших языках ({ $languages }).
console-queue-show-all = Показать все языки
console-queue-ticket = Обращение
console-queue-issue = Тема
console-queue-order = Заказ
console-queue-language = Язык
console-queue-channel = Канал
console-queue-waiting-for = Ждёт
console-queue-last-message = Последнее сообщение клиента
console-queue-high = срочно
console-queue-low-trust = мало доверия
console-queue-low-trust-why = Анонимный посетитель, который только попросил позвать человека
console-queue-pages = Страницы очереди
console-queue-previous = Назад
console-queue-next = Дальше
console-queue-page = Страница { $page }
console-queue-assigned-to-you = У вас ({ $count })
console-queue-assigned-to-others = У других операторов ({ $count })
console-queue-none = Нет.
console-queue-with-agent = у { $agent }
console-queue-truncated = Показаны только самые новые обращения в работе; остальные можно найти командой

## Обращение
console-ticket-title = Обращение №{ $id }
console-ticket-high = высокий приоритет
console-ticket-customer = Клиент
console-ticket-customer-on = { $customer }, канал { $channel }
console-ticket-opened = Создано
console-ticket-opened-at = { $at } ({ $waited } назад)
console-ticket-agent = Оператор
console-ticket-nobody = пока никто
console-ticket-description = Описание
console-ticket-photos = Фото
console-ticket-photo = Фото к обращению
console-ticket-rating = Оценка
console-ticket-resolve = Отметить как решённое
console-ticket-assign-to = Кому передать
console-ticket-assign = Передать
console-ticket-release = Вернуть в очередь
console-ticket-reopen = Открыть снова
console-ticket-conversation = Переписка
console-ticket-reply-label = Ответ клиенту
console-ticket-canned-label = Шаблон ответа ({ $language })
console-ticket-choose = Выберите…
console-ticket-send = Отправить ответ
console-ticket-claim-to-reply = Чтобы ответить, возьмите обращение.
console-ticket-notes = Внутренние заметки
console-ticket-notes-hint = Их видят только операторы.
console-ticket-undelivered = Не доставлено
console-ticket-undelivered-hint = Клиент не получил эти ответы. Причина — ответ платформы.
console-ticket-undelivered-bot = (сообщение бота)
console-ticket-note-label = Новая заметка
console-ticket-add-note = Добавить заметку
console-author-customer = Клиент
console-author-bot = Бот
console-author-agent = { $agent } (оператор)
console-author-system = Система

## Сводка
console-dashboard-last-days = { $days ->
    [one] за последний { $days } день
    [few] за последние { $days } дня
   *[many] за последние { $days } дней
}
console-dashboard-csv = Скачать CSV
console-dashboard-tickets = Обращения
console-dashboard-first-response = Медиана первого ответа
console-dashboard-resolve = Медиана времени решения
console-dashboard-rating = Средняя оценка
console-dashboard-self-service = Доля решённых через FAQ
console-dashboard-none = нет данных
console-dashboard-tickets-chart = Обращения по дням
console-dashboard-tickets-caption = Новые обращения по дням (UTC)
console-dashboard-ratings-chart = Распределение оценок

## Шаблоны ответов
console-canned-empty = Шаблонов ответов пока нет.
console-canned-title = Название
console-canned-text = Текст
console-canned-new = Новый шаблон ответа
console-canned-add = Добавить

## Операторы
console-agents-name = Имя
console-agents-role = Роль
console-agents-languages = Языки
console-agents-status = Состояние
console-agents-admin = Администратор
console-agents-agent = Оператор
console-agents-active = активен
console-agents-disabled = отключён
console-agents-disable = Отключить
console-agents-new-password-for = Новый пароль для { $agent }
console-agents-reset-password = Сбросить пароль
console-agents-must-change = должен сменить пароль
console-agents-add-heading = Новый оператор
console-agents-password = Пароль (не короче 10 символов)
console-agents-add = Добавить оператора

## API-токены
console-tokens-new = Новый токен (показывается только сейчас, скопируйте его):
console-tokens-acts-as = От имени оператора
console-tokens-expires = Действует до
console-tokens-last-used = Последнее использование
console-tokens-active = действует
console-tokens-expired = истёк
console-tokens-revoked = отозван
console-tokens-never = никогда
console-tokens-revoke = Отозвать
console-tokens-create-heading = Новый токен
console-tokens-expiry = Срок действия (в днях; пусто — бессрочно)
console-tokens-create = Создать токен

## Каналы
console-channel-telegram = Telegram
console-channel-vk = ВКонтакте
console-channel-max = MAX
console-channel-ozon = Чат Ozon
console-channel-webchat = Чат на сайте
console-channel-terminal = Терминал

## Машинный перевод
console-translation-hint = Сообщения показаны на языке: { $language }. Ваш ответ будет переведён ({ $customer }), и перед отправкой вы увидите перевод.
console-translation-original = Оригинал ({ $language })
console-translation-unavailable = Перевод недоступен: показано так, как написал клиент.
console-translation-received = Что получил клиент ({ $language })
console-translation-written = Как написал сотрудник ({ $language })
console-preview-button = Перевести и проверить
console-preview-title = Проверьте перевод перед отправкой
console-preview-yours = Вы написали
console-preview-translation = Клиент получит ({ $language }); текст можно исправить
console-preview-human = Перевод из шаблонов ответов, сделанный человеком: машинный перевод не понадобился.
console-preview-unavailable = Перевод недоступен. Напишите ответ на языке клиента здесь или отправьте свой текст как есть.
console-preview-send = Отправить
console-canned-language-versions = У шаблона может быть версия на каждом языке: добавьте её под шаблоном. Тогда клиент получит версию на своём языке, написанную человеком, без машинного перевода.
console-canned-add-version = Добавить версию на другом языке
