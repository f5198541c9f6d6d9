# ruff: noqa: F821
# item: arc_easy/AKDE&ED_2012_8_53
# family: verification
# note: the solver rates each option 1-10; unparsable ratings fall back to cloze
import re

ratings = []
for c in ITEM.choices:
    r = solver_call(f"{ITEM.question}\nCandidate: {c}\nRate the candidate from 1 to 10.", max_tokens=4)
    m = re.search(r"\b(10|[1-9])\b", r)
    ratings.append(int(m.group()) if m else None)
if any(x is not None for x in ratings) and len({x for x in ratings if x is not None}) > 1:
    best = max(range(len(ratings)), key=lambda i: ratings[i] or 0)
    submit(ITEM.labels[best])
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])
