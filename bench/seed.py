"""Seeds a Block Chat database for benchmarks: a group with N messages, or M chats for
one user. SQLite through the standard library; PostgreSQL through psql.

  python3 bench/seed.py DATABASE_URL messages CHAT_ID OWNER_ID N [SENDER_ID]
  python3 bench/seed.py DATABASE_URL chats USER_ID M [SENDER_ID]
"""
import subprocess, sys, uuid, datetime

url, what = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc).isoformat()

def run(statements):
    if url.startswith("sqlite://"):
        import sqlite3
        db = sqlite3.connect(url[len("sqlite://"):], timeout=60)
        db.execute("BEGIN")
        for sql, rows in statements:
            db.executemany(sql.replace("%s", "?"), rows)
        db.commit()
    else:
        # COPY is the fast way in; one COPY per table.
        for sql, rows in statements:
            table, cols = sql.split("INSERT INTO ")[1].split(" VALUES")[0].split(" ", 1)
            data = "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)
            subprocess.run(["psql", url, "-qc", f"COPY {table} {cols} FROM STDIN"], input=data.encode(), check=True)

CHAT = "INSERT INTO chats (id, kind, name, search_key, last_seq, text_count, last_activity_at, created_by, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
MEMBER = "INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES (%s, %s, %s, %s)"
MESSAGE = "INSERT INTO messages (id, chat_id, seq, ord, sender_id, kind, content, html, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"

if what == "messages":
    chat_id, owner, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
    sender = sys.argv[6] if len(sys.argv) > 6 else owner
    run([
        (CHAT, [(chat_id, "group", "history", "history", n, n, now, owner, now, now)]),
        (MEMBER, [(chat_id, owner, "owner", now)]),
        (MESSAGE, [(str(uuid.uuid4()), chat_id, seq, seq, sender, "text", f"message {seq}", f"<p>message {seq}</p>", now) for seq in range(1, n + 1)]),
    ])
elif what == "chats":
    user, m = sys.argv[3], int(sys.argv[4])
    sender = sys.argv[5] if len(sys.argv) > 5 else user
    chats = [str(uuid.uuid4()) for _ in range(m)]
    run([
        (CHAT, [(c, "group", f"chat {i}", f"chat {i}", 3, 3, now, user, now, now) for i, c in enumerate(chats)]),
        (MEMBER, [(c, user, "owner", now) for c in chats]),
        (MESSAGE, [(str(uuid.uuid4()), c, seq, seq, sender, "text", f"hello {seq}", f"<p>hello {seq}</p>", now) for c in chats for seq in (1, 2, 3)]),
    ])
