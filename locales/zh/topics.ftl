# 主题短标签，每个 FAQ 意图一个（意图见 locales/*/intents.toml）。机器人拿不准消息属于哪两个意图中的
# 哪一个时，会在澄清问题（“您是想问<标签>还是<标签>？”）的按钮上显示这些标签。
# 键是 `topic-` 加上用连字符连接的意图名。标签要短（最多约 30 个字符），不含变量。

topic-cancel-order = 取消订单
topic-change-order = 修改订单
topic-change-shipping-address = 修改收货地址
topic-check-cancellation-fee = 取消订单的费用
topic-check-invoice = 查看发票
topic-check-payment-methods = 支付方式
topic-check-refund-policy = 退款政策
topic-complaint = 投诉
topic-contact-customer-service = 联系客服
topic-contact-human-agent = 转人工客服
topic-create-account = 注册账号
topic-delete-account = 注销账号
topic-delivery-options = 配送方式
topic-delivery-period = 配送时效
topic-edit-account = 修改账号信息
topic-get-invoice = 开发票
topic-get-refund = 申请退款
topic-newsletter-subscription = 订阅推送邮件
topic-payment-issue = 支付问题
topic-place-order = 下单
topic-recover-password = 找回密码
topic-registration-problems = 注册遇到问题
topic-review = 评价
topic-set-up-shipping-address = 添加收货地址
topic-switch-account = 切换账号
topic-track-order = 查询物流
topic-track-refund = 退款进度
topic-greeting = 打个招呼
topic-goodbye = 结束对话
topic-damaged-item = 商品破损
topic-wrong-item = 发错货
topic-missing-item = 少件漏发
topic-not-as-described = 与描述不符
topic-late-delivery = 配送延迟
topic-courier-problem = 快递员或驿站问题
topic-request-status = 我的工单进度
topic-speak-english = 切换到英语
topic-speak-russian = 切换到俄语
topic-speak-chinese = 切换到中文
