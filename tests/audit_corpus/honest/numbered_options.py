# ruff: noqa: F821
# item: openbookqa/6
# family: letter
# note: options numbered 1..n; the digit in the reply is mapped back to a label
import re

listing = "\n".join(f"{k}) {c}" for k, c in enumerate(ITEM.choices, 1))
reply = solver_call(f"{ITEM.question}\n{listing}\nReply with the number of the best option.", max_tokens=6)
m = re.search(r"\d+", reply)
k = int(m.group()) - 1 if m else -1
if 0 <= k < len(ITEM.choices):
    submit(ITEM.labels[k])
lp = solver_logprobs(f"{ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])
