"""Fill autoaudit's Indonesian catalogue after ``makemessages -l id``.

Run from the repository root: ``python scripts/translate_id.py`` then
``cd autoaudit && django-admin compilemessages -l id``. Strings that are
not listed here stay untranslated and are reported.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "autoaudit/locale/id/LC_MESSAGES/django.po"

ID = {
    "Activity log": "Log aktivitas",
    'Created %(entity)s "%(name)s"': 'Membuat %(entity)s baru: "%(name)s"',
    'Deleted %(entity)s "%(name)s"': 'Menghapus %(entity)s: "%(name)s"',
    'Updated %(entity)s "%(name)s": %(changes)s': 'Mengubah %(entity)s "%(name)s": %(changes)s',
    '%(action)s %(entity)s "%(name)s"': '%(action)s %(entity)s "%(name)s"',
    "User": "Pengguna",
    "Guest": "Tamu",
    "System": "Sistem",
    "Create": "Membuat",
    "Update": "Mengubah",
    "Delete": "Menghapus",
    "View": "Melihat",
    "Login": "Masuk",
    "Logout": "Keluar",
    "Login failed": "Gagal masuk",
    "Upload": "Mengunggah",
    "Download": "Mengunduh",
    "Activate": "Mengaktifkan",
    "Deactivate": "Menonaktifkan",
    "Publish": "Menerbitkan",
    "Unpublish": "Membatalkan terbit",
    "user": "pengguna",
    "actor type": "tipe aktor",
    "actor identifier": "pengenal aktor",
    "actor name": "nama aktor",
    "actor metadata": "metadata aktor",
    "action": "aksi",
    "entity": "entitas",
    "computed entity": "entitas lengkap",
    "entity id": "id entitas",
    "entity primary key": "kunci utama entitas",
    "entity name": "nama entitas",
    "old values": "nilai lama",
    "new values": "nilai baru",
    "changed fields": "field yang berubah",
    "description": "deskripsi",
    "IP address": "alamat IP",
    "user agent": "user agent",
    "extra data": "data tambahan",
    "Flexible storage for additional context, metadata, or application-specific data": (
        "Penyimpanan fleksibel untuk konteks tambahan, metadata, atau data khusus aplikasi"
    ),
    "created at": "dibuat pada",
    "activity log": "log aktivitas",
    "activity logs": "log aktivitas",
    "Deleted user": "Pengguna terhapus",
    "Anonymous Guest": "Tamu Anonim",
}

ENTRY = re.compile(r'msgid ((?:"(?:[^"\\]|\\.)*"\n)+)msgstr ""\n(?!")', re.M)


def _unquote(block: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', block)
    return "".join(parts).replace('\\"', '"').replace("\\n", "\n")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> int:
    text = PO.read_text()
    missing = []

    def fill(match: re.Match[str]) -> str:
        msgid = _unquote(match.group(1))
        if not msgid:
            return match.group(0)
        if msgid not in ID:
            missing.append(msgid)
            return match.group(0)
        return f"msgid {match.group(1)}msgstr {_quote(ID[msgid])}\n"

    text = ENTRY.sub(fill, text)
    text = text.replace("#, fuzzy\n", "", 1)
    text = re.sub(r'"Language: \\n"', r'"Language: id\\n"', text)
    text = re.sub(r'"Plural-Forms: [^"]*"', r'"Plural-Forms: nplurals=1; plural=0;\\n"', text)
    PO.write_text(text)
    for msgid in missing:
        print(f"untranslated: {msgid!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
