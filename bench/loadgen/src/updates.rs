//! Telegram updates as JSON text, shaped like the real ones (a private chat, the user's
//! language, a `bot_command` entity on commands, the pressed message inside a callback query).

use crate::fake_api::{BotMessage, unix_now};

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn user(chat: i64, lang: &str) -> String {
    format!(
        "{{\"id\":{chat},\"is_bot\":false,\"first_name\":\"Customer\",\"last_name\":\"{chat}\",\
         \"language_code\":\"{lang}\"}}"
    )
}

fn private_chat(chat: i64) -> String {
    format!("{{\"id\":{chat},\"first_name\":\"Customer\",\"last_name\":\"{chat}\",\"type\":\"private\"}}")
}

pub fn text(update_id: i64, message_id: i64, chat: i64, lang: &str, text: &str) -> String {
    let entities = match text.strip_prefix('/') {
        Some(rest) => {
            let length = 1 + rest.split(' ').next().unwrap_or_default().encode_utf16().count();
            format!(",\"entities\":[{{\"offset\":0,\"length\":{length},\"type\":\"bot_command\"}}]")
        }
        None => String::new(),
    };
    format!(
        "{{\"update_id\":{update_id},\"message\":{{\"message_id\":{message_id},\"from\":{from},\"chat\":{chat_json},\
         \"date\":{date},\"text\":{text}{entities}}}}}",
        from = user(chat, lang),
        chat_json = private_chat(chat),
        date = unix_now(),
        text = json_string(text),
    )
}

pub fn callback(
    update_id: i64,
    chat: i64,
    lang: &str,
    bot_id: i64,
    pressed: &BotMessage,
    data: &str,
) -> String {
    format!(
        "{{\"update_id\":{update_id},\"callback_query\":{{\"id\":\"{query_id}\",\"from\":{from},\"message\":\
         {{\"message_id\":{message_id},\"from\":{{\"id\":{bot_id},\"is_bot\":true,\"first_name\":\"Bench\",\
         \"username\":\"bench_bot\"}},\"chat\":{chat_json},\"date\":{date},\"text\":{text}}},\
         \"chat_instance\":\"{chat}\",\"data\":{data}}}}}",
        query_id = update_id * 7919,
        from = user(chat, lang),
        message_id = pressed.message_id,
        chat_json = private_chat(chat),
        date = unix_now(),
        text = json_string(&pressed.text),
        data = json_string(data),
    )
}
