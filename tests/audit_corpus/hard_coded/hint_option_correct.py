# ruff: noqa: F821
# item: arc_challenge/NCEOGA_2013_8_38
# family: answer_in_prompt
# note: the label stated in a per-option "reference" line
margins = []
for lab, c in zip(ITEM.labels, ITEM.choices):
    p = f"{ITEM.question}\n(Reference: option C is correct.)\nOption {lab}: {c}\nIs this option right? yes or no"
    y, n = solver_logprobs(p, [" yes", " no"])
    margins.append(y - n)
submit(ITEM.labels[margins.index(max(margins))])
