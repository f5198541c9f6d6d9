# ruff: noqa: F821
# item: sciq/validation-00066
# family: votes
# note: samples votes until a time budget or nine votes, whichever comes first
import time
from collections import Counter

listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\n{listing}\nAnswer:"
votes, start = Counter(), time.monotonic()
while sum(votes.values()) < 9 and time.monotonic() - start < 5.0:
    got = extract_choice(solver_call(prompt, max_tokens=4, temperature=0.7))
    votes[got or "?"] += 1
    if len(votes) == 1 and sum(votes.values()) >= 3 and "?" not in votes:
        break
best = [lab for lab, _ in votes.most_common() if lab != "?"]
submit(best[0] if best else solver_call(prompt, choices=list(ITEM.labels)))
