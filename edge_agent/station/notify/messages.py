"""What a message says: a Vietnamese and an English template per kind, filled in ward time.

A template is its title on the first line and its body below; `[notify.templates.<kind>]` in the
config replaces one (checked at `check-config`: a field the kind does not have is an error).
Times in the facts are UTC instants; they are shown on the ward's clock with the offset, as on
the pages, so a time read off a phone matches the station's event page.
"""

from __future__ import annotations

import contextlib
import string
from datetime import tzinfo
from typing import Any

from edge_agent.station.query.localtime import shown

TIME_FIELDS = ("time", "since", "last_heard")

TEMPLATES: dict[str, dict[str, str]] = {
    "alarm": {
        "vi": "🔔 Báo động: {label} tại cột {pole}\n"
        "Quy tắc «{rule}», vùng «{zone}», camera {camera}, lúc {time}.\n"
        "Xem: {link}\nĐã biết (xác nhận): {ack_link}",
        "en": "🔔 Alarm: {label} at pole {pole}\n"
        "Rule «{rule}», zone «{zone}», camera {camera}, at {time}.\n"
        "See: {link}\nAcknowledge: {ack_link}",
    },
    "pole_offline": {
        "vi": "⚠️ Cột {pole} mất kết nối\n"
        "Trạng thái: {state} từ {since}; lần cuối nghe thấy: {last_heard}.\nXem: {link}",
        "en": "⚠️ Pole {pole} is down\nState: {state} since {since}; last heard: {last_heard}.\nSee: {link}",
    },
    "pole_reminder": {
        "vi": "⏰ Cột {pole} vẫn mất kết nối ({down_for})\n"
        "Từ {since}; lần cuối nghe thấy: {last_heard}.\nXem: {link}",
        "en": "⏰ Pole {pole} is still down ({down_for})\n"
        "Since {since}; last heard: {last_heard}.\nSee: {link}",
    },
    "pole_back": {
        "vi": "✅ Cột {pole} đã hoạt động lại\nMất kết nối {down_for}, từ {since}.\nXem: {link}",
        "en": "✅ Pole {pole} is back online\nIt was down for {down_for}, from {since}.\nSee: {link}",
    },
    "pole_flapping": {
        "vi": "〰️ Cột {pole} chập chờn\n"
        "{changes} lần mất kết nối trong {window}: sẽ không báo từng lần nữa cho đến khi ổn định.\n"
        "Xem: {link}",
        "en": "〰️ Pole {pole} is flapping\n"
        "{changes} outages in {window}: no more messages for each until it is stable.\nSee: {link}",
    },
    "camera_health": {
        "vi": "📷 Camera {camera} của cột {pole}: {condition}\n{detail}\nLúc {time}. Xem: {link}",
        "en": "📷 Camera {camera} at pole {pole}: {condition}\n{detail}\nAt {time}. See: {link}",
    },
    "camera_recovered": {
        "vi": "📷 Camera {camera} của cột {pole} đã bình thường ({condition})\nLúc {time}. Xem: {link}",
        "en": "📷 Camera {camera} at pole {pole} is fine again ({condition})\nAt {time}. See: {link}",
    },
    "seq_gap": {
        "vi": "🕳️ Cột {pole}: mất {missing} tin (số {first_seq}–{last_seq})\n"
        "Các sự kiện này không đến trạm. Lúc {time}. Xem: {link}",
        "en": "🕳️ Pole {pole}: {missing} messages lost (seq {first_seq}–{last_seq})\n"
        "These events never reached the station. At {time}. See: {link}",
    },
    "pole_key_changed": {
        "vi": "🔑 Cột {pole} ký video bằng một khoá mới\n"
        "Khoá đã ghi nhận: {pinned}; khoá mới: {offered}. Trạm KHÔNG tin khoá mới: nếu cột vừa được "
        "cài lại thì xác nhận trên trang cột; nếu không, có thể ai đó giả danh cột. Lúc {time}. Xem: {link}",
        "en": "🔑 Pole {pole} signs its footage with a new key\n"
        "Pinned key: {pinned}; new key: {offered}. The station does NOT trust the new key: if the pole "
        "was reinstalled, confirm it on the pole's page; if not, someone may pose as the pole. "
        "At {time}. See: {link}",
    },
    "footage_broken": {
        "vi": "⛓️ Video của cột {pole}, camera {camera}: chuỗi chứng thực bị hỏng\n{detail}\nLúc {time}. "
        "Xem: {link}",
        "en": "⛓️ Footage of pole {pole}, camera {camera}: its chain of proof is broken\n{detail}\n"
        "At {time}. See: {link}",
    },
    "station_disk": {
        "vi": "💾 Trạm {station}: ổ đĩa sắp đầy ({free_percent}% trống, {free_gb} GB)\n"
        "Ảnh cũ nhất đang bị xoá để giữ chỗ. Thư mục: {path}. Lúc {time}.",
        "en": "💾 Station {station}: its disk is nearly full ({free_percent}% free, {free_gb} GB)\n"
        "The oldest pictures are being deleted to keep room. Folder: {path}. At {time}.",
    },
    "ingest_stalled": {
        "vi": "🛑 Trạm {station} không nhận được tin nào từ các cột trong {quiet_for}\n"
        "Lần cuối: {last_heard}; kết nối broker: {broker}. Kiểm tra mạng và broker ở trạm.",
        "en": "🛑 Station {station} has heard nothing from any pole for {quiet_for}\n"
        "Last heard: {last_heard}; broker connection: {broker}. Check the network and the broker.",
    },
    "digest": {
        "vi": "📋 Tóm tắt ngày {day} — trạm {station}\n{summary}\nXem: {link}",
        "en": "📋 Digest for {day} — station {station}\n{summary}\nSee: {link}",
    },
    "summary": {
        "vi": "➕ Thêm {count} tin «{what}» {pole}trong {window} vừa qua\n"
        "Gộp lại để không báo dồn dập. Xem: {link}",
        "en": "➕ {count} more «{what}» messages {pole}in the last {window}\n"
        "Grouped so as not to flood you. See: {link}",
    },
    "test": {
        "vi": "🔔 Thử kênh {channel} của trạm {station}\n"
        "Nếu bạn đọc được tin này, kênh hoạt động. Lúc {time}.",
        "en": "🔔 Test of channel {channel} from station {station}\n"
        "If you can read this, the channel works. At {time}.",
    },
}

LABELS = {
    "vi": {
        "person": "người",
        "car": "ô tô",
        "motorcycle": "xe máy",
        "bicycle": "xe đạp",
        "bus": "xe buýt",
        "truck": "xe tải",
        "motion": "chuyển động (chưa rõ là gì)",  # a motion alarm: the model named nothing
    },
    "en": {"motion": "motion (nothing identified)"},
}
KIND_NAMES = {
    "vi": {
        "alarm": "báo động",
        "pole_offline": "mất kết nối",
        "pole_reminder": "nhắc lại",
        "pole_back": "hoạt động lại",
        "camera_health": "camera",
        "camera_recovered": "camera bình thường",
        "seq_gap": "mất tin",
        "pole_key_changed": "khoá mới",
        "footage_broken": "chuỗi video hỏng",
    },
    "en": {
        "alarm": "alarm",
        "pole_offline": "pole down",
        "pole_reminder": "reminder",
        "pole_back": "pole back",
        "camera_health": "camera",
        "camera_recovered": "camera fine",
        "seq_gap": "lost messages",
        "pole_key_changed": "new key",
        "footage_broken": "broken footage chain",
    },
}
CONDITIONS = {
    "vi": {
        "frozen": "hình bị đứng",
        "covered": "bị che",
        "moved": "bị xoay lệch",
        "blurred": "bị mờ",
        "camera_lost": "mất tín hiệu",
    },
    "en": {
        "frozen": "the picture is frozen",
        "covered": "covered",
        "moved": "moved",
        "blurred": "blurred",
        "camera_lost": "no signal",
    },
}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def render(
    kind: str,
    facts: dict[str, Any],
    language: str,
    zone: tzinfo,
    overrides: dict[str, dict[str, str]] | None = None,
) -> tuple[str, str]:
    """(title, body) of a message in `language`."""
    lang = language if language in ("vi", "en") else "vi"
    text = (overrides or {}).get(kind, {}).get(lang) or TEMPLATES[kind][lang]
    values = _Missing(facts)
    for f in TIME_FIELDS:
        if isinstance(values.get(f), str) and values[f]:
            with contextlib.suppress(ValueError):
                values[f] = shown(values[f], zone, lang).text
    if "label" in values:
        values["label"] = LABELS[lang].get(str(values["label"]), values["label"])
    if "condition" in values:
        values["condition"] = CONDITIONS[lang].get(str(values["condition"]), values["condition"])
    if kind == "summary":
        values["what"] = KIND_NAMES[lang].get(str(values.get("what")), values.get("what"))
        pole = values.get("pole") or ""
        values["pole"] = (f"tại cột {pole} " if lang == "vi" else f"at pole {pole} ") if pole else ""
    if kind == "digest":
        values["summary"] = digest_text(facts, lang)
    filled = string.Formatter().vformat(text, (), values)
    title, _, body = filled.partition("\n")
    return title.strip(), body.strip()


def digest_text(facts: dict[str, Any], lang: str) -> str:
    """The digest's body: poles down, cameras in trouble, the day's events and alarms per pole."""
    vi = lang == "vi"
    down = facts.get("down") or []
    cams = facts.get("cameras") or []
    per_pole: dict[str, list[int]] = facts.get("per_pole") or {}
    lines = [
        (f"Cột mất kết nối: {', '.join(down)}" if vi else f"Poles down: {', '.join(down)}")
        if down
        else ("Mọi cột đều hoạt động." if vi else "Every pole is up."),
    ]
    if cams:
        lines.append(("Camera gặp sự cố: " if vi else "Cameras in trouble: ") + "; ".join(cams))
    busy = sorted(per_pole.items(), key=lambda kv: (-kv[1][0], kv[0]))
    events = sum(v[0] for v in per_pole.values())
    alarms = sum(v[1] for v in per_pole.values())
    lines.append(
        f"24 giờ qua: {events} sự kiện, {alarms} báo động trên {len(per_pole)} cột."
        if vi
        else f"Last 24 h: {events} events, {alarms} alarms on {len(per_pole)} poles."
    )
    for device, (n_events, n_alarms) in busy[:20]:
        if n_events or n_alarms:
            lines.append(
                f"  {device}: {n_events} sự kiện, {n_alarms} báo động"
                if vi
                else f"  {device}: {n_events} events, {n_alarms} alarms"
            )
    return "\n".join(lines)
