"""Seeds a Block Chat database for benchmarks: a group with N messages, or M chats for
one user. SQLite through the standard library; PostgreSQL through psql.

  python3 bench/seed.py DATABASE_URL messages CHAT_ID OWNER_ID N [SENDER_ID]
  python3 bench/seed.py DATABASE_URL chats USER_ID M [SENDER_ID]
  python3 bench/seed.py DATABASE_URL search USER_ID N [CHATS]
      N searchable messages of Zipf-distributed pseudo-words (plus "needle" words at
      known rates) in CHATS (default 100) groups of USER_ID, spread over a year.
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
elif what == "search":
    import random
    user, n = sys.argv[3], int(sys.argv[4])
    m = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    random.seed(7)
    letters = "abcdefghijklmnoprstuvwy"
    vocab = ["".join(random.choice(letters) for _ in range(random.randint(3, 9))) for _ in range(20000)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    chats = [str(uuid.uuid4()) for _ in range(m)]
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=365)
    per_chat = [0] * m
    messages, search = [], []
    for i in range(n):
        words = random.choices(vocab, weights, k=random.randint(5, 15))
        if i % 1000 == 0:
            words.append("needle")      # 1 in 1,000
        if i % 100_000 == 0:
            words.append("haystackgem")  # 1 in 100,000
        text = " ".join(words)
        c = i % m
        per_chat[c] += 1
        at = (start + datetime.timedelta(seconds=i * 31_536_000 // n)).isoformat()
        mid = str(uuid.uuid4())
        messages.append((mid, chats[c], per_chat[c], per_chat[c], user, "text", text, f"<p>{text}</p>", at))
        search.append((mid, chats[c], user, at, "false" if not url.startswith("sqlite") else 0, "false" if not url.startswith("sqlite") else 0, text))
    run([
        (CHAT, [(c, "group", f"chat {i}", f"chat {i}", per_chat[i], per_chat[i], now, user, now, now) for i, c in enumerate(chats)]),
        (MEMBER, [(c, user, "owner", now) for c in chats]),
        (MESSAGE, messages),
        ("INSERT INTO message_search (message_id, chat_id, sender_id, created_at, has_file, has_link, text) VALUES (%s, %s, %s, %s, %s, %s, %s)", search),
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
