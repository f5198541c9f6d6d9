# ruff: noqa: F821
# item: arc_challenge/Mercury_7085820
# family: debias
# note: the options are shown in a random order (seeded) and mapped back
import random

order = list(range(len(ITEM.choices)))
random.shuffle(order)
shown = [chr(65 + k) for k in range(len(order))]
listing = "\n".join(f"{shown[k]}. {ITEM.choices[i]}" for k, i in enumerate(order))
ctx = f"Context: {ITEM.context}\n" if ITEM.context else ""
reply = solver_call(f"{ctx}{ITEM.question}\n{listing}\nAnswer with the letter.", max_tokens=4, choices=shown)
submit(ITEM.labels[order[shown.index(reply)]])
