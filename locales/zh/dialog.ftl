# Switchboard 对话文本（简体中文）。
# 键名和变量与 locales/en/dialog.ftl（参考语言）一致；检查方法：
#   switchboard locales check --dir locales
# 中文没有复数形式，不需要按数字分支，但每个变量都要保留。
# $wait_minutes 为 -1 表示等待时间未知。

greeting = 您好！我是本店的客服助手，可以解答常见问题、协助处理订单，也可以为您转接人工客服。
menu-prompt = 请问有什么可以帮您？请在下方选择一个主题，或直接输入您的问题。
help =
    我可以帮您处理订单、付款、账户、配送、退货和退款等问题。
    请直接用自己的话描述问题，或使用以下命令：
    /menu：显示主题列表
    /cancel：取消当前请求
    /language：切换语言
    /agent：联系人工客服
unknown-command = 没有这个命令。输入 /help 查看我能做什么。
nothing-to-cancel = 目前没有可以取消的请求。
cancelled = 好的，已取消该请求，没有发送给我们的团队。
not-understood = 抱歉，我没有理解您的意思。请在下方选择一个主题，或联系人工客服。
empty-message = 您的消息好像是空的，请输入几个字。
text-too-long = 这条消息太长了：请控制在 { $limit } 个字符以内，或分成几条发送。
unsupported-content = { $kind ->
        [sticker] 贴纸很可爱！不过我只能读取文字和图片。
        [voice] 我暂时还不能收听语音消息，请输入文字。
        [audio] 我无法播放音频文件，请输入文字。
        [video] 我无法观看视频。请发送照片，或用文字描述问题。
        [location] 谢谢，不过不需要位置信息，请输入文字。
        [contact] 谢谢，不过不需要联系人名片，请输入文字。
        [poll] 我无法参与投票，请输入文字。
        [document] 我只能接收图片（JPEG、PNG、GIF 或 WebP），无法接收其他文件。
       *[other] 我无法读取这类消息，请发送文字或图片。
    }
photo-too-large = 这张照片太大了：上限为 { $limit_mb } MB。请发送一张小一些的图片。
photo-not-an-image = 这个文件看起来不是图片。请发送 JPEG、PNG、GIF 或 WebP 格式的照片。
photo-unavailable = 我们暂时无法接收照片。请用文字描述您看到的情况，或稍后再发送照片。
photo-not-expected = 谢谢您的照片，它会保存在对话记录中，不过现在还不需要照片。
stale-button = 这个按钮属于之前的问题。
choices-hint = 请回复您所选选项的数字。
ask-order-id = { $issue ->
        [payment] 这笔付款是哪个订单的？请发送订单号，例如 { $example }。
        [delivery] 您在等哪个订单？请发送订单号，例如 { $example }。
        [late_delivery] 您在等哪个订单？请发送订单号，例如 { $example }。
        [return] 您想退哪个订单？请发送订单号，例如 { $example }。
        [cancellation] 您想取消哪个订单？请发送订单号，例如 { $example }。
        [damaged] 很抱歉商品到货时是这样。是哪个订单？请发送订单号，例如 { $example }。
        [wrong_item] 很抱歉发错了货。是哪个订单？请发送订单号，例如 { $example }。
       *[other] 请发送您的订单号，例如 { $example }。
    }订单号可以在订单确认通知和“我的订单”中找到。
order-id-invalid = 这看起来不像订单号，正确的格式类似 { $example }。请核对后重新发送。
order-id-accepted = 收到：订单 { $order_id }。
ask-photo-required = 请发送商品及问题部位的照片，可以发送多张。
ask-photo-optional = 如果您有照片或截图，请现在发送；如果没有，请点击“跳过”。
photo-required = 至少需要一张照片才能提交您的请求。请发送一张商品的照片。
photo-received = 已收到 { $count } 张照片。您可以继续发送，或点击“完成”。
ask-more-photos = 目前已有 { $count } 张照片。您可以继续发送，或点击“完成”。
photo-limit-reached = 已经有 { $count } 张照片了，这是每个请求的上限。
ask-description = 请用几句话描述一下发生了什么。
ask-complaint = 很抱歉给您带来不好的体验。请告诉我们发生了什么，您的投诉会直接转交给我们团队的资深同事。
suggestion-intro = 这个方法也许能马上解决问题：
did-it-help = 这对您有帮助吗？
glad-it-helped = 很高兴能帮到您！
handoff-queued = 您的请求已转交给我们的团队，您目前排在第 { $position } 位。{ $wait_minutes ->
        [-1] {""}
       *[other] 预计需要等待约 { $wait_minutes } 分钟。
    }您可以继续在这里留言，所有内容都会添加到您的请求中。
handoff-queued-after-hours = 您的请求已转交给我们的团队，您目前排在第 { $position } 位。客服人员现在不在线，将于 { $back_at } 回来。
complaint-queued = 您的投诉已作为高优先级转交给我们的团队，您目前排在第 { $position } 位。{ $wait_minutes ->
        [-1] {""}
       *[other] 预计需要等待约 { $wait_minutes } 分钟。
    }
already-queued = 您的请求已经交给我们的团队，您目前排在第 { $position } 位。
queued-message-added = 谢谢，这条内容已添加到您的请求中，客服人员会查看。
queue-update = 您目前排在第 { $position } 位。{ $wait_minutes ->
        [-1] 客服人员会尽快为您服务。
       *[other] 预计需要等待约 { $wait_minutes } 分钟。
    }
queue-update-after-hours = 您目前排在第 { $position } 位。客服人员现在不在线，将于 { $back_at } 回来。
request-still-open = 您的请求仍在处理中。您可以继续在这里留言；如果不再需要帮助，也可以撤回请求。
request-withdrawn = 您的请求已撤回。
agent-joined = 客服 { $agent } 已加入对话。
agent-joined-unnamed = 一位客服人员已加入对话。
returned-to-queue = 您的请求已重新排队，您目前排在第 { $position } 位。
ticket-reopened = { $agent } 重新打开了您的请求。
ticket-reopened-unnamed = 客服团队重新打开了您的请求。
assigned-reminder = { $agent } 正在处理您的请求，直接在这里留言即可。
assigned-reminder-unnamed = 客服团队正在处理您的请求，直接在这里留言即可。
ask-rating = 您的请求已解决。请为我们的服务打分（1 到 5 分）。
rating-invalid = 请选择 1 到 5 分。
ask-comment = 感谢您的评分！还想补充几句评价吗？请直接输入，或点击“跳过”。
thanks-for-rating = 感谢您的反馈！
ask-feedback = 我们很想听听您的意见。您想告诉我们什么？
thanks-for-feedback = 谢谢！您的反馈已转交给我们的团队。
choose-language = 请选择语言：
language-set = 好的，接下来我会用中文和您交流。
order-id-changed = 好的，订单号已改为 { $order_id }。
choose-order-problem = 订单 { $order_id } 出了什么问题？请在下面选择，或者直接描述。
clarify = 想确认一下我理解得对不对：您说的是下面哪一个？
not-understood-order = 抱歉，我没太明白。请选择订单出了什么问题，或者用几句话描述一下。
offer-person = 抱歉，我还是没弄明白您需要什么。要为您转接人工客服吗？您也可以在菜单里选择主题。
you-are-welcome = 不客气！有需要随时在这里留言。
no-open-request = 在这个对话里我没有看到您未处理的请求。请告诉我发生了什么，我会马上帮您或转给同事。
group-chat-not-supported = 我只能在私聊中提供帮助，请直接给我发消息。
flood-notice = 您发消息的速度太快，我来不及回复。您发送的内容都会保存给我们的客服团队，但我会暂停回复一分钟。请稍等片刻再发送。

button-skip = 跳过
button-done = 完成
button-yes = 是
button-no = 否
button-human = 转人工客服
button-menu = 主菜单
button-withdraw = 撤回请求
button-skip-comment = 跳过

issue-order = 订单问题
issue-payment = 付款
issue-account = 我的账户
issue-delivery = 配送
issue-return = 退货退款
issue-complaint = 投诉
issue-other = 其他
issue-damaged = 商品损坏
issue-wrong-item = 发错商品
issue-missing-item = 缺件或少配件
issue-not-as-described = 与描述不符
issue-late-delivery = 配送延迟
issue-courier = 快递员或自提点
issue-cancellation = 取消订单

language-en = English
language-ru = Русский
language-zh = 中文

rating-1 = 1
rating-2 = 2
rating-3 = 3
rating-4 = 4
rating-5 = 5

## 订单（已接入订单查询：见 docs/order-lookup.md）

order-status-label = { $status ->
        [pending] 待付款
        [paid] 已付款，等待打包
        [packing] 正在打包
        [shipped] 已发货
        [in_transit] 运输中
        [ready_for_pickup] 已到自提点，等待取件
        [delivered] 已签收
        [cancelled] 已取消
       *[returned] 已退货
    }
order-status = 订单 { $order_id }：{ order-status-label }{ $labelled ->
        [1] （商家状态：{ $store_label }）
       *[0] {""}
    }。
order-tracking = { $has_carrier ->
        [1] 承运商：{ $carrier }。
       *[0] 您的包裹正在运输中。
    }{ $has_number ->
        [1] 运单号：{ $tracking_number }。
       *[0] {""}
    }{ $has_eta ->
        [1] 预计送达：{ $eta }。
       *[0] {""}
    }{ $has_url ->
        [1] 查看物流：{ $tracking_url }
       *[0] {""}
    }
order-refund = { $known ->
        [1] { $eligible ->
                [1] 该订单可以退款{ $has_until ->
                        [1] ，截止日期为 { $until }
                       *[0] {""}
                    }。
               *[0] 该订单已超过退款期限。
            }
       *[0] 商家未说明该订单是否可以退款。
    }
order-found-for-problem = 已找到订单 { $order_id }：{ order-status-label }。
order-not-found = 找不到订单 { $order_id }。请核对订单号（格式如 { $example }）后重新发送，或者联系人工客服。
order-none-for-customer = 您的账户中暂无订单。如果您有订单号，请直接发送（格式如 { $example }）。
ask-order-verifier = 为确认这是您的订单，请发送下单时填写的{ $kind ->
        [phone] 手机号码
       *[email] 电子邮箱
    }。
order-verifier-invalid = 这看起来不像{ $kind ->
        [phone] 手机号码
       *[email] 电子邮箱地址
    }。请重新发送，或者联系人工客服。
order-lookup-limit = 您连续输入的几个订单号都未能匹配。为保护其他顾客的订单信息，我暂时不再查询订单，人工客服可以为您提供帮助。
order-store-unavailable = 抱歉，目前无法连接订单系统，暂时查不到您的订单。请稍后再试，或者联系人工客服。
order-not-checked = 暂时无法核对该订单，我会把订单号和您的问题一起转交给客服。
order-still-checking = 正在查询您的订单，请稍候。
account-linked = 账户已关联。现在我可以看到您的订单，直接问“我的订单到哪了？”即可。
account-link-invalid = 此链接已过期或已被使用。请在网站的个人中心重新获取链接。
## 电子邮件：每封来信只回复一封邮件。
email-received = 感谢您的来信，我们已经收到。
email-received-order = 感谢您的来信，我们已经收到，并记下了订单号 { $order_id }。
email-reply-human = 如果这没有帮助，请回复本邮件“人工”，我们的客服人员会为您解答。
email-added-to-request = 谢谢，您的邮件已添加到您的请求中，客服人员会看到。
email-subject-default = 您的请求
