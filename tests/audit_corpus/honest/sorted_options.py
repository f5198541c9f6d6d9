# ruff: noqa: F821
# item: openbookqa/9-615
# family: debias
# note: options shown in alphabetical order (a position-free order), mapped back by text
shown = sorted(ITEM.choices, key=str.lower)
listing = "\n".join(f"{chr(65 + k)}. {c}" for k, c in enumerate(shown))
reply = solver_call(f"{ITEM.question}\n{listing}\nAnswer with the letter.", max_tokens=3)
k = ord(reply.strip()[:1].upper() or "A") - 65
pick = shown[k] if 0 <= k < len(shown) else shown[0]
submit(ITEM.labels[ITEM.choices.index(pick)])
