"""Fill autoaudit's Indonesian catalogue after ``makemessages -l id``.

Run from the repository root: ``python scripts/translate_id.py`` then
``cd autoaudit && django-admin compilemessages -l id``; create the catalogue with
``django-admin makemessages -l id --no-location`` (delete the old .po first:
merging would leave fuzzy guesses, which gettext ignores). Strings that are
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
    # actors, events and views
    'Viewed %(entity)s "%(name)s"': 'Melihat %(entity)s: "%(name)s"',
    "Viewed %(entity)s": "Melihat %(entity)s",
    'Downloaded %(entity)s "%(name)s"': 'Mengunduh %(entity)s: "%(name)s"',
    "Downloaded %(entity)s": "Mengunduh %(entity)s",
    'Uploaded %(entity)s "%(name)s"': 'Mengunggah %(entity)s: "%(name)s"',
    "Uploaded %(entity)s": "Mengunggah %(entity)s",
    "POST %(path)s": "POST %(path)s",
    "Logged in": "Masuk",
    "Logged out": "Keluar",
    'Failed login as "%(username)s"': 'Gagal masuk sebagai "%(username)s"',
    "Failed login": "Gagal masuk",
    # timeline and admin
    "Today": "Hari ini",
    "Yesterday": "Kemarin",
    "This week": "Minggu ini",
    "7 days": "7 hari",
    "30 days": "30 hari",
    "(absent)": "(tidak ada)",
    "(empty)": "(kosong)",
    "just now": "baru saja",
    "%(time)s ago": "%(time)s yang lalu",
    "Actor type": "Tipe aktor",
    "Action": "Aksi",
    "Entity": "Entitas",
    "Actor": "Aktor",
    "actor": "aktor",
    "email, username or guest ID": "email, nama pengguna, atau ID tamu",
    "From": "Dari",
    "To": "Sampai",
    "Anyone": "Siapa saja",
    "Any action": "Semua aksi",
    "Everything": "Semua",
    "The end date is before the start date.": "Tanggal akhir lebih awal dari tanggal mulai.",
    "Activity": "Aktivitas",
    "Activity: %s": "Aktivitas: %s",
    "Request and context": "Permintaan dan konteks",
    "target": "sasaran",
    "changes": "perubahan",
    "Changes": "Perubahan",
    "%(name)s “%(key)s” was not found; perhaps it was deleted.": (
        "%(name)s “%(key)s” tidak ditemukan; mungkin sudah dihapus."
    ),
    "Everyone’s activity, newest first.": "Aktivitas semua orang, terbaru di atas.",  # noqa: RUF001 - the msgid itself
    "Your activity, newest first.": "Aktivitas Anda, terbaru di atas.",
    "Back to the newest": "Kembali ke yang terbaru",
    "History of %(name)s": "Riwayat %(name)s",
    "History of this object": "Riwayat objek ini",
    "All activity": "Semua aktivitas",
    "Pagination": "Navigasi halaman",
    "Loading…": "Memuat…",
    "Load more": "Muat lebih banyak",
    "No activity matches these filters.": "Tidak ada aktivitas yang cocok dengan filter ini.",
    "No activity yet.": "Belum ada aktivitas.",
    "No activity recorded for this object.": "Belum ada aktivitas yang tercatat untuk objek ini.",
    "Show only this actor": "Tampilkan hanya aktor ini",
    "%(counter)s value": "%(counter)s nilai",
    "and %(counter)s more": "dan %(counter)s lainnya",
    "Field": "Field",
    "Value": "Nilai",
    "Old value": "Nilai lama",
    "New value": "Nilai baru",
    "changed to": "diubah menjadi",
    "Filters": "Filter",
    "Apply": "Terapkan",
    "Reset": "Atur ulang",
    "Activity counts": "Jumlah aktivitas",
    "Breakdown by action and actor type": "Rincian per aksi dan tipe aktor",
    "Home": "Beranda",
    "Date/time": "Tanggal/waktu",
    "Only your own activity is shown.": "Hanya aktivitas Anda sendiri yang ditampilkan.",
    # privacy
    "You have opted out: your activity on this site is recorded without anything that "
    "identifies you.": (
        "Anda telah memilih keluar: aktivitas Anda di situs ini dicatat tanpa apa pun "
        "yang mengidentifikasi Anda."
    ),
    "Your browser asks sites not to track you, and this site honours that.": (
        "Peramban Anda meminta situs untuk tidak melacak Anda, dan situs ini menghormatinya."
    ),
    "This site does not identify visitors who are not signed in.": (
        "Situs ini tidak mengidentifikasi pengunjung yang belum masuk."
    ),
    "Allow tracking again": "Izinkan pelacakan lagi",
    "Your activity on this site may be recorded with your session, IP address and browser.": (
        "Aktivitas Anda di situs ini dapat dicatat bersama sesi, alamat IP, dan peramban Anda."
    ),
    "Opt out": "Pilih keluar",
    "Activity tracking": "Pelacakan aktivitas",
    "Created with %(values)s": "Dibuat dengan %(values)s",
    "Deleted; it had %(values)s": "Dihapus; sebelumnya %(values)s",
    "%(field)s changed at %(paths)s": "%(field)s berubah di %(paths)s",
    "added %(items)s": "menambah %(items)s",
    "removed %(items)s": "menghapus %(items)s",
    "part of": "bagian dari",
    "History of what this belongs to": "Riwayat dari induknya",
    "Show only this tag": "Tampilkan hanya tag ini",
    "Tags": "Tag",
    "Tag": "Tag",
    "a tag": "sebuah tag",
    "Logging switched off by autoaudit.disabled() in %(code)s": (
        "Pencatatan dimatikan oleh autoaudit.disabled() di %(code)s"
    ),
    "Tracking settings changed: %(changes)s": "Pengaturan pelacakan berubah: %(changes)s",
    "tags": "tag",
    "related entity type": "tipe entitas terkait",
    "related entity id": "id entitas terkait",
    "changes summary": "ringkasan perubahan",
    # Wave 2 columns, seals and the admin's revert (issues 15-17)
    "request id": "id permintaan",
    "write id": "id penulisan",
    "first id": "id pertama",
    "last id": "id terakhir",
    "row count": "jumlah baris",
    "digest": "digest",
    "previous digest": "digest sebelumnya",
    "MAC format version": "versi format MAC",
    "row MACs": "MAC baris",
    "seal": "segel",
    "seals": "segel",
    "anonymised": "dianonimkan",
    "erased": "dihapus total",
    "pruned": "dipangkas",
    "archived": "diarsipkan",
    "row id": "id baris",
    "kind": "jenis",
    "old MAC": "MAC lama",
    "new MAC": "MAC baru",
    "MAC": "MAC",
    "seal event": "peristiwa segel",
    "seal events": "peristiwa segel",
    "No, take me back": "Tidak, kembali",
    "yes,no,maybe": "ya,tidak,mungkin",
    # Dashboard analytics (issue 17)
    "Activity patterns": "Pola aktivitas",
    "Activity by weekday and hour, last 30 days (%(zone)s)": (
        "Aktivitas per hari dan jam, 30 hari terakhir (%(zone)s)"
    ),
    "%(total)s activity by weekday and hour": "%(total)s aktivitas per hari dan jam",
    "Guest conversion, last 30 days": "Konversi tamu, 30 hari terakhir",
    "%(converted)s of %(guests)s guest logged in": "%(converted)s dari %(guests)s tamu masuk",
    # Request ids (issue 15)
    "Request": "Permintaan",
    "Everything in this request": "Semua dalam permintaan ini",
    "X-Request-ID": "X-Request-ID",
    "This is not a request id.": "Ini bukan ID permintaan.",
}

PLURAL = re.compile(
    r'msgid ((?:"(?:[^"\\]|\\.)*"\n)+)msgid_plural ((?:"(?:[^"\\]|\\.)*"\n)+)msgstr\[0\] ""\n(?!")',
    re.M,
)
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

    def fill_plural(match: re.Match[str]) -> str:
        msgid = _unquote(match.group(1))
        if msgid not in ID:
            missing.append(msgid)
            return match.group(0)
        return f"msgid {match.group(1)}msgid_plural {match.group(2)}msgstr[0] {_quote(ID[msgid])}\n"

    text = PLURAL.sub(fill_plural, text)
    # Indonesian has one plural form (the header says nplurals=1): a second
    # msgstr[] that makemessages may add fails ``msgfmt --check``.
    text = re.sub(r'^msgstr\[1\] "[^\n]*\n(?:"[^\n]*\n)*', "", text, flags=re.M)
    text = text.replace("#, fuzzy\n", "", 1)
    text = re.sub(r'"Language: \\n"', r'"Language: id\\n"', text)
    text = re.sub(r'"Plural-Forms: [^"]*"', r'"Plural-Forms: nplurals=1; plural=0;\\n"', text)
    PO.write_text(text)
    for msgid in missing:
        print(f"untranslated: {msgid!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
