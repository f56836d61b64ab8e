# 客服控制台：页面、提示和错误信息。键的清单在 src/core/keys.rs（CONSOLE_KEYS）；
# `switchboard locales check` 会检查每个键在所有语言中都存在。

console-title = 控制台
console-skip-to-content = 跳到正文
console-signed-in-as = 当前登录：
console-sign-out = 退出登录
console-channel-down = 渠道未连接：
console-back-to-queue = 返回队列
console-actions = 操作
console-claim = 接单
console-save = 保存
console-delete = 删除
console-not-sent = 未发送：网络连接失败，请重试。
console-photo-from-customer = 客户发来的图片

console-nav-queue = 队列
console-nav-dashboard = 数据概览
console-nav-canned = 快捷回复
console-nav-agents = 客服人员
console-nav-tokens = API 令牌
console-nav-profile = 密码与个人设置

## 时长与状态
console-duration-under-a-minute = 不到 1 分钟
console-duration-seconds = { $seconds } 秒
console-duration-minutes = { $minutes } 分钟
console-duration-minutes-seconds = { $minutes } 分 { $seconds } 秒
console-duration-hours = { $hours } 小时 { $minutes } 分钟
console-duration-days = { $days } 天 { $hours } 小时
console-status-queued = 排队中
console-status-assigned = 处理中
console-status-resolved = 已解决

## 登录
console-login-title = 登录
console-login-heading = Switchboard 客服控制台
console-login-name = 客服账号
console-login-password = 密码
console-login-submit = 登录
console-login-wrong = 账号或密码错误。
console-login-too-many = 登录尝试次数过多，请稍等一分钟再试。

## 密码与个人设置
console-password-heading = 修改密码
console-password-must-change = 您的密码是别人设置的，请先设置自己的密码再继续。
console-password-current = 当前密码
console-password-new = 新密码（至少 10 个字符）
console-password-repeat = 再次输入新密码
console-password-submit = 修改密码
console-password-wrong = 当前密码不正确。
console-password-differ = 两次输入的新密码不一致。
console-password-same = 新密码不能与当前密码相同。
console-password-too-many = 尝试次数过多，请稍等一分钟再试。
console-profile-heading = 语言
console-profile-console-language = 控制台语言
console-profile-browser-language = 跟随浏览器
console-profile-speaks = 我能用哪些语言回复客户
console-profile-submit = 保存语言设置
console-profile-saved = 语言设置已保存。

## 操作后的提示
console-notice-claimed = 您已接下这个工单。
console-notice-taken = 已被接单：{ $agent } 正在处理这个工单。
console-notice-closed = 这个工单已经解决了。
console-notice-replied = 回复已发送。
console-notice-resolved = 工单已解决，系统已请客户评分。
console-notice-reopened = 工单已重新打开，并分配给您。
console-notice-released = 工单已退回队列。
console-notice-transferred = 已转给 { $agent }。
console-notice-noted = 备注已添加。
console-notice-not-yours = 只有正在处理此工单的客服或管理员才能这样做。请先接单。
console-notice-not-allowed = 工单当前的状态下无法进行此操作。
console-notice-empty = 请先输入内容。
console-notice-saved = 已保存。
console-notice-no-agent = 没有这个名字的在职客服。
console-notice-agent-exists = 已有同名的客服账号。
console-notice-bad-name = 客服账号只能包含英文字母、数字以及“.”“-”“_”。
console-notice-weak-password = 密码至少需要 10 个字符。
console-notice-password-changed = 密码已修改，您在其他地方的登录已全部退出。
console-notice-password-reset = 已为 { $agent } 设置新密码，对方下次登录时需要改成自己的密码。
console-notice-agent-disabled = 该客服账号已停用。

## 错误
console-error-form-expired = 表单已失效
console-error-form-expired-text = 该表单不是从当前控制台会话提交的。请刷新页面后重试。
console-error-admins-only = 仅限管理员
console-error-admins-only-text = 只有管理员可以执行此操作。
console-error-not-found = 未找到
console-error-not-found-text = 这里什么都没有。
console-error-too-many-pages = 打开的实时页面过多
console-error-too-many-pages-text = 请关闭一些控制台标签页；此页面会自动停止更新。
console-error-bad-request = 请求有误
console-error-bad-request-text = 无法理解该请求。
console-error-internal = 出错了
console-error-internal-text = 错误已记录，请重试。

## 队列
console-queue-waiting = 等待中（{ $count }）
console-queue-empty = 目前没有客户在等待。
console-queue-page-empty = 这一页没有更多工单了。
console-queue-no-languages = 填写您会说的语言后，即可按语言筛选队列：
console-queue-show-mine = 只看我会说的语言（{ $languages }）
console-queue-showing-mine = 正在显示您会说的语言的工单（{ $languages }）。
console-queue-show-all = 显示所有语言
console-queue-ticket = 工单
console-queue-issue = 问题类型
console-queue-order = 订单
console-queue-language = 语言
console-queue-channel = 渠道
console-queue-waiting-for = 已等待
console-queue-last-message = 客户最新消息
console-queue-high = 加急
console-queue-low-trust = 可信度低
console-queue-low-trust-why = 匿名访客，只要求转人工
console-queue-pages = 等待列表分页
console-queue-previous = 上一页
console-queue-next = 下一页
console-queue-page = 第 { $page } 页
console-queue-assigned-to-you = 我的工单（{ $count }）
console-queue-assigned-to-others = 其他客服的工单（{ $count }）
console-queue-none = 无。
console-queue-with-agent = 由 { $agent } 处理
console-queue-truncated = 这里只列出最新的处理中工单；其余的可以用以下命令查看：

## 单个工单
console-ticket-title = 工单 #{ $id }
console-ticket-high = 高优先级
console-ticket-customer = 客户
console-ticket-customer-on = { $customer }（{ $channel }）
console-ticket-opened = 创建时间
console-ticket-opened-at = { $at }（{ $waited }前）
console-ticket-agent = 客服
console-ticket-nobody = 暂无
console-ticket-description = 问题描述
console-ticket-photos = 图片
console-ticket-photo = 工单附带的图片
console-ticket-rating = 评分
console-ticket-resolve = 标记为已解决
console-ticket-assign-to = 转给
console-ticket-assign = 转交
console-ticket-release = 退回队列
console-ticket-reopen = 重新打开
console-ticket-conversation = 对话记录
console-ticket-reply-label = 回复客户
console-ticket-canned-label = 快捷回复（{ $language }）
console-ticket-choose = 请选择…
console-ticket-send = 发送回复
console-ticket-claim-to-reply = 接单后才能回复。
console-ticket-notes = 内部备注
console-ticket-notes-hint = 只有客服能看到。
console-ticket-undelivered = 未送达
console-ticket-undelivered-hint = 客户没有收到这些回复。原因来自平台的答复。
console-ticket-undelivered-bot = （机器人的消息）
console-ticket-note-label = 添加备注
console-ticket-add-note = 添加备注
console-author-customer = 客户
console-author-bot = 机器人
console-author-agent = { $agent }（客服）
console-author-system = 系统

## 数据概览
console-dashboard-last-days = 最近 { $days } 天
console-dashboard-csv = 下载 CSV
console-dashboard-tickets = 工单数
console-dashboard-first-response = 首次回复时间（中位数）
console-dashboard-resolve = 解决时间（中位数）
console-dashboard-rating = 平均评分
console-dashboard-self-service = 常见问题自助解决率
console-dashboard-none = 暂无数据
console-dashboard-tickets-chart = 每日工单数
console-dashboard-tickets-caption = 每日新建工单（UTC）
console-dashboard-ratings-chart = 评分分布

## 快捷回复
console-canned-empty = 还没有快捷回复。
console-canned-title = 标题
console-canned-text = 内容
console-canned-new = 新建快捷回复
console-canned-add = 添加

## 客服人员
console-agents-name = 名称
console-agents-role = 角色
console-agents-languages = 会说的语言
console-agents-status = 状态
console-agents-admin = 管理员
console-agents-agent = 客服
console-agents-active = 在职
console-agents-disabled = 已停用
console-agents-disable = 停用
console-agents-new-password-for = 为 { $agent } 设置新密码
console-agents-reset-password = 重置密码
console-agents-must-change = 需要设置新密码
console-agents-add-heading = 添加客服
console-agents-password = 密码（至少 10 个字符）
console-agents-add = 添加客服

## API 令牌
console-tokens-new = 新令牌（只显示这一次，请复制保存）：
console-tokens-acts-as = 代表的客服
console-tokens-expires = 到期时间
console-tokens-last-used = 最近使用
console-tokens-active = 有效
console-tokens-expired = 已过期
console-tokens-revoked = 已撤销
console-tokens-never = 从不
console-tokens-revoke = 撤销
console-tokens-create-heading = 创建令牌
console-tokens-expiry = 有效期（天；留空表示永久）
console-tokens-create = 创建令牌

## 渠道
console-channel-telegram = Telegram
console-channel-vk = VK
console-channel-max = MAX
console-channel-ozon = Ozon 聊天
console-channel-webchat = 网站聊天
console-channel-terminal = 终端

## 机器翻译
console-translation-hint = 消息以{ $language }显示。您的回复会被翻译成{ $customer }，发送前会先给您确认。
console-translation-original = 原文（{ $language }）
console-translation-unavailable = 翻译暂不可用：显示的是客户的原文。
console-translation-received = 客户收到的内容（{ $language }）
console-translation-written = 客服的原话（{ $language }）
console-preview-button = 翻译并确认
console-preview-title = 发送前请确认译文
console-preview-yours = 您写的内容
console-preview-translation = 客户将收到（{ $language }），可以修改
console-preview-human = 这是快捷回复中的人工译文，没有使用机器翻译。
console-preview-unavailable = 翻译暂不可用。请在这里用客户的语言写回复，或者按原文发送。
console-preview-send = 发送
console-canned-language-versions = 每条快捷回复可以有各语言的版本：在回复下方添加。客户会收到用其语言人工撰写的版本，无需机器翻译。
console-canned-add-version = 添加其他语言的版本
