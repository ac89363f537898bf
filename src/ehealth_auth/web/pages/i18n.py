"""Ukrainian and English texts of the pages, the language choice, and scopes in plain words."""

from __future__ import annotations

from typing import Literal

Lang = Literal["uk", "en"]
LANGS: tuple[Lang, ...] = ("uk", "en")
DEFAULT_LANG: Lang = "uk"

TEXTS: dict[str, dict[Lang, str]] = {
    "title_sign_in": {"uk": "Вхід до eHealth", "en": "Sign in to eHealth"},
    "title_consent": {"uk": "Надати доступ", "en": "Grant access"},
    "title_error": {"uk": "Запит не можна виконати", "en": "This request cannot be completed"},
    "sign_in_lead": {
        "uk": "Увійдіть, щоб надати доступ застосунку «{client}».",
        "en": "Sign in to let “{client}” access your account.",
    },
    "email": {"uk": "Електронна пошта", "en": "Email"},
    "password": {"uk": "Пароль", "en": "Password"},
    "sign_in": {"uk": "Увійти", "en": "Sign in"},
    "consent_lead": {
        "uk": "Застосунок «{client}» просить дозволу діяти від вашого імені:",
        "en": "“{client}” asks for permission to act on your behalf:",
    },
    "consent_redirect": {
        "uk": "Після вашої відповіді вас буде перенаправлено на {host}.",
        "en": "After you answer you will be sent back to {host}.",
    },
    "approve": {"uk": "Дозволити", "en": "Allow"},
    "deny": {"uk": "Відхилити", "en": "Deny"},
    "sign_out": {"uk": "Вийти", "en": "Sign out"},
    "language": {"uk": "Мова", "en": "Language"},
    "wrong_credentials": {
        "uk": "Неправильна електронна пошта або пароль.",
        "en": "The email or password is wrong.",
    },
    "missing_credentials": {
        "uk": "Введіть електронну пошту та пароль.",
        "en": "Enter your email and password.",
    },
    "invalid_characters": {
        "uk": "Електронна пошта та пароль не можуть містити керівних символів.",
        "en": "Email and password must not contain control characters.",
    },
    "too_many_attempts": {
        "uk": "Забагато невдалих спроб. Спробуйте ще раз через {minutes} хв.",
        "en": "Too many failed attempts. Try again in {minutes} min.",
    },
    "user_blocked": {
        "uk": "Ваш обліковий запис заблоковано.",
        "en": "Your account is blocked.",
    },
    "session_expired": {
        "uk": "Сеанс завершився. Оновіть сторінку й спробуйте ще раз.",
        "en": "Your session has ended. Reload the page and try again.",
    },
    "unknown_client": {
        "uk": "Застосунок не знайдено. Зверніться до постачальника вашої МІС.",
        "en": "The application is unknown. Contact the vendor of your MIS.",
    },
    "client_blocked": {
        "uk": "Цей застосунок заблоковано.",
        "en": "This application is blocked.",
    },
    "redirect_mismatch": {
        "uk": "Адреса повернення не збігається із зареєстрованою для застосунку.",
        "en": "The return address does not match the one registered for the application.",
    },
    "sign_in_not_allowed": {
        "uk": "Тип цього застосунку не дозволяє входу користувачів.",
        "en": "This application's type does not allow users to sign in.",
    },
    "busy": {
        "uk": "Забагато входів водночас. Спробуйте ще раз за мить.",
        "en": "Too many sign-ins at once. Try again in a moment.",
    },
    "bad_request": {"uk": "Некоректний запит.", "en": "The request is not valid."},
}

_SCOPES: dict[str, dict[Lang, str]] = {
    "app:authorize": {
        "uk": "Надавати доступ застосункам від вашого імені",
        "en": "Grant applications access on your behalf",
    },
    "legal_entity:read": {
        "uk": "Переглядати дані вашого закладу",
        "en": "View your organization's details",
    },
    "legal_entity:write": {
        "uk": "Змінювати дані вашого закладу",
        "en": "Change your organization's details",
    },
    "employee:read": {"uk": "Переглядати дані працівників", "en": "View employee records"},
    "employee:write": {"uk": "Змінювати дані працівників", "en": "Change employee records"},
    "employee_request:read": {
        "uk": "Переглядати запити на додавання працівників",
        "en": "View requests to add employees",
    },
    "employee_request:write": {
        "uk": "Створювати запити на додавання працівників",
        "en": "Create requests to add employees",
    },
    "division:read": {"uk": "Переглядати підрозділи", "en": "View divisions"},
    "division:write": {"uk": "Змінювати підрозділи", "en": "Change divisions"},
    "declaration:read": {"uk": "Переглядати декларації", "en": "View declarations"},
    "declaration:write": {"uk": "Створювати декларації", "en": "Create declarations"},
    "patients:view": {"uk": "Переглядати дані пацієнтів", "en": "View patient records"},
}

_ACTIONS: dict[str, dict[Lang, str]] = {
    "read": {"uk": "Переглядати", "en": "View"},
    "view": {"uk": "Переглядати", "en": "View"},
    "write": {"uk": "Змінювати", "en": "Change"},
    "create": {"uk": "Створювати", "en": "Create"},
    "delete": {"uk": "Видаляти", "en": "Delete"},
}


def text(key: str, lang: Lang, **values: str) -> str:
    return TEXTS[key][lang].format(**values)


def describe_scope(scope: str, lang: Lang) -> str:
    """A scope in plain words; an unknown one as `<action> <resource in words>`."""
    known = _SCOPES.get(scope)
    if known:
        return known[lang]
    resource, _, action = scope.partition(":")
    words = resource.replace("_", " ").strip() or scope
    verb = _ACTIONS.get(action)
    return f"{verb[lang]}: {words}" if verb else words


def choose_lang(requested: str | None, accept_language: str) -> Lang:
    """An explicit choice (the switch on the page) first, then Accept-Language by q-value."""
    for lang in LANGS:
        if requested == lang:
            return lang
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for quality, _, primary in sorted(ranked):
        for lang in LANGS:
            if quality < 0 and primary == lang:
                return lang
    return DEFAULT_LANG
