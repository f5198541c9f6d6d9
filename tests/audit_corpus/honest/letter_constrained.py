# ruff: noqa: F821
# item: arc_challenge/TIMSS_2003_8_pg14
# family: letter
# note: one constrained call over the labels
listing = "\n".join(f"({lab}) {text}" for lab, text in zip(ITEM.labels, ITEM.choices))
prompt = "You are a biology teacher.\n" + ITEM.question + "\n" + listing + "\nThe correct option is ("
reply = solver_call(prompt, max_tokens=1, choices=list(ITEM.labels))
submit(reply)
