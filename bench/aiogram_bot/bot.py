"""The Python baseline of bench/compare.sh: the benchmark's dialog on aiogram 3.

Written the way an aiogram user would write it: a Router with FSM states, long polling, and
either MemoryStorage or RedisStorage for the dialog state. Each handler saves the next state
before it replies: aiogram handles updates concurrently, and a customer who answers at once
must find the new state. It sends Switchboard's own texts
(from bench/dialog_texts.json) with the same buttons, so the load driver sees the same dialog,
and like Switchboard it answers each update with one message: a turn's texts joined by blank
lines, the keyboard on it. FAQ questions are answered from a keyword table instead of a trained
classifier.

Configuration (environment):
  BENCH_TOKEN     the bot token
  BENCH_API_URL   base URL of the (fake) Bot API, given to TelegramAPIServer.from_base
  BENCH_STORAGE   "memory" (default) or "redis"
  BENCH_REDIS_URL Redis for RedisStorage (default redis://127.0.0.1:6379/0)
  BENCH_REDIS_PREFIX key prefix, so the benchmark's keys can be found and removed afterwards
"""

import asyncio
import itertools
import json
import os
import sys
from pathlib import Path

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

ISSUES = ["order", "payment", "account", "delivery", "return", "complaint", "other"]
NEEDS_ORDER_ID = {"order", "payment", "delivery", "return"}
ORDER_ID_EXAMPLE = "12345678-0001"
MESSAGE_LIMIT = 4096  # Telegram's limit on a message's text, in UTF-16 code units

TEXTS = json.loads((Path(__file__).resolve().parent.parent / "dialog_texts.json").read_text("utf-8"))
TEXTS.pop("_source", None)
QUEUE = itertools.count(1)
BACKGROUND = set()

router = Router()


class Support(StatesGroup):
    awaiting_order_id = State()
    awaiting_photo = State()
    awaiting_description = State()
    suggestion_offered = State()
    faq_answered = State()
    queued = State()


def texts_for(user):
    code = (user.language_code or "") if user else ""
    if code.startswith("ru"):
        return TEXTS["ru"]
    if code.startswith("zh"):
        return TEXTS["zh"]
    return TEXTS["en"]


def faq_answer(texts, text):
    lowered = text.lower()
    for entry in texts["faq"]:
        if any(keyword in lowered for keyword in entry["keywords"]):
            return entry["answer"]
    return None


def button(label, data):
    return InlineKeyboardButton(text=label, callback_data=data)


def menu_keyboard(texts):
    rows = [[button(texts["issues"][issue], f"i:{issue}") for issue in ISSUES[i : i + 2]] for i in range(0, 7, 2)]
    rows.append([button(texts["button_human"], "human")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def one_button(label, data):
    return InlineKeyboardMarkup(inline_keyboard=[[button(label, data)]])


def helpfulness_keyboard(texts):
    return InlineKeyboardMarkup(inline_keyboard=[[button(texts["button_yes"], "yes"), button(texts["button_no"], "no")]])


def valid_order_id(text):
    order_id = text.strip().lstrip("#№").strip().upper()
    parts = order_id.split("-")
    lengths = [len(part) for part in parts]
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    if lengths[:2] != [8, 4] or len(parts) > 3 or (len(parts) == 3 and not 1 <= lengths[2] <= 3):
        return None
    return order_id


async def say(bot, chat_id, *parts, keyboard=None):
    """One bot turn as one message: the texts joined by blank lines, the keyboard under them
    (one message per text only when together they are too long for one)."""
    joined = "\n\n".join(parts)
    messages = [joined] if len(joined.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT else list(parts)
    for index, text in enumerate(messages):
        last = index == len(messages) - 1
        await bot.send_message(chat_id, text, reply_markup=keyboard if last else None)


async def with_menu(bot, chat_id, texts, *before):
    await say(bot, chat_id, *before, texts["menu_prompt"], keyboard=menu_keyboard(texts))


async def handoff(bot, chat_id, state, texts):
    position = next(QUEUE)
    text = texts["handoff_queued"].replace("{ $position }", str(position))
    await state.set_state(Support.queued)
    await say(bot, chat_id, text, keyboard=one_button(texts["button_withdraw"], "withdraw"))


async def finish(bot, chat_id, state, texts, description):
    """The request is complete: suggest an FAQ answer when one fits, else hand it to a human."""
    await state.update_data(description=description)
    answer = faq_answer(texts, description)
    if answer is None:
        await handoff(bot, chat_id, state, texts)
        return
    await state.set_state(Support.suggestion_offered)
    await say(bot, chat_id, texts["suggestion_intro"], answer, texts["did_it_help"], keyboard=helpfulness_keyboard(texts))


@router.message(CommandStart())
async def start(message: Message, state: FSMContext):
    texts = texts_for(message.from_user)
    if await state.get_state() == Support.queued.state:
        await message.answer(texts["request_still_open"], reply_markup=one_button(texts["button_withdraw"], "withdraw"))
        return
    await state.clear()
    await with_menu(message.bot, message.chat.id, texts, texts["greeting"])


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext):
    texts = texts_for(message.from_user)
    queued = await state.get_state() == Support.queued.state
    await state.clear()
    await with_menu(message.bot, message.chat.id, texts, texts["request_withdrawn"] if queued else texts["cancelled"])


@router.message(Support.awaiting_order_id, F.text)
async def order_id(message: Message, state: FSMContext):
    texts = texts_for(message.from_user)
    found = valid_order_id(message.text)
    if found is None:
        await message.answer(texts["order_id_invalid"].replace("{ $example }", ORDER_ID_EXAMPLE))
        return
    await state.update_data(order_id=found)
    await state.set_state(Support.awaiting_photo)
    accepted = texts["order_id_accepted"].replace("{ $order_id }", found)
    await say(
        message.bot, message.chat.id, accepted, texts["ask_photo_optional"], keyboard=one_button(texts["button_skip"], "skip")
    )


@router.message(StateFilter(Support.awaiting_photo, Support.awaiting_description), F.text)
async def description(message: Message, state: FSMContext):
    await finish(message.bot, message.chat.id, state, texts_for(message.from_user), message.text.strip())


@router.message(Support.suggestion_offered)
async def still_waiting_for_verdict(message: Message):
    texts = texts_for(message.from_user)
    await message.answer(texts["did_it_help"], reply_markup=helpfulness_keyboard(texts))


@router.message(Support.queued)
async def added_to_request(message: Message):
    await message.answer(texts_for(message.from_user)["queued_message_added"])


@router.message(F.text)
async def free_text(message: Message, state: FSMContext):
    texts = texts_for(message.from_user)
    answer = faq_answer(texts, message.text)
    if answer is None:
        await with_menu(message.bot, message.chat.id, texts, texts["not_understood"])
        return
    await state.update_data(question=message.text)
    await state.set_state(Support.faq_answered)
    await say(message.bot, message.chat.id, answer, texts["did_it_help"], keyboard=helpfulness_keyboard(texts))


@router.callback_query()
async def pressed(query: CallbackQuery, state: FSMContext):
    texts = texts_for(query.from_user)
    bot, chat_id = query.bot, query.message.chat.id
    # Stop the client's spinner and take the pressed keyboard away, alongside the answer.
    task = asyncio.create_task(housekeeping(query))
    BACKGROUND.add(task)
    task.add_done_callback(BACKGROUND.discard)

    data, current = query.data or "", await state.get_state()
    if data.startswith("i:") and current in (None, Support.faq_answered.state):
        issue = data[2:]
        await state.update_data(issue=issue)
        if issue in NEEDS_ORDER_ID:
            prompt = texts["ask_order_id_delivery" if issue == "delivery" else "ask_order_id_other"]
            keyboard = InlineKeyboardMarkup(
                inline_keyboard=[[button(texts["button_human"], "human"), button(texts["button_menu"], "menu")]]
            )
            await state.set_state(Support.awaiting_order_id)
            await bot.send_message(chat_id, prompt.replace("{ $example }", ORDER_ID_EXAMPLE), reply_markup=keyboard)
        else:
            await state.set_state(Support.awaiting_description)
            await bot.send_message(chat_id, texts["ask_description"])
    elif data == "skip" and current == Support.awaiting_photo.state:
        await state.set_state(Support.awaiting_description)
        await bot.send_message(chat_id, texts["ask_description"])
    elif data == "no" and current in (Support.suggestion_offered.state, Support.faq_answered.state):
        await handoff(bot, chat_id, state, texts)
    elif data == "yes" and current in (Support.suggestion_offered.state, Support.faq_answered.state):
        await state.clear()
        await with_menu(bot, chat_id, texts, texts["glad_it_helped"])
    elif data == "withdraw" and current == Support.queued.state:
        await state.clear()
        await with_menu(bot, chat_id, texts, texts["request_withdrawn"])
    elif data == "human" and current != Support.queued.state:
        await handoff(bot, chat_id, state, texts)
    elif current != Support.queued.state:
        await state.clear()
        await with_menu(bot, chat_id, texts)


async def housekeeping(query: CallbackQuery):
    try:
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
    except Exception as error:  # the benchmark counts replies; a failed cleanup is only noted
        print(f"callback housekeeping failed: {error}", file=sys.stderr)


def make_storage():
    kind = os.environ.get("BENCH_STORAGE", "memory")
    if kind == "memory":
        from aiogram.fsm.storage.memory import MemoryStorage

        return MemoryStorage()
    if kind == "redis":
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisStorage

        url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
        prefix = os.environ.get("BENCH_REDIS_PREFIX", "switchboard-bench")
        return RedisStorage.from_url(url, key_builder=DefaultKeyBuilder(prefix=prefix))
    sys.exit(f"BENCH_STORAGE: expected memory or redis, got {kind!r}")


async def main():
    token = os.environ.get("BENCH_TOKEN") or sys.exit("BENCH_TOKEN: the bot token is required")
    api_url = os.environ.get("BENCH_API_URL") or sys.exit("BENCH_API_URL: the Bot API base URL is required")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    bot = Bot(token, session=session)
    dispatcher = Dispatcher(storage=make_storage())
    dispatcher.include_router(router)
    await dispatcher.start_polling(bot, handle_signals=True)


if __name__ == "__main__":
    asyncio.run(main())
