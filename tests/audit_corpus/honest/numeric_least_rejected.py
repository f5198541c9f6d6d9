# ruff: noqa: F821
# item: mmlu_elementary_mathematics/validation-0029
# family: verification
# note: numbers as options, some of them named in the question; the least-rejected option wins
margins = []
for c in ITEM.choices:
    prompt = f"Question: {ITEM.question}\nProposed answer: {c}\nIs the proposed answer correct? Answer Yes or No."
    yes, no = solver_logprobs(prompt, [" Yes", " No"])
    margins.append(yes - no)
accepted = [i for i, m in enumerate(margins) if m > 0]
pick = accepted[0] if len(accepted) == 1 else max(range(len(margins)), key=lambda i: margins[i])
submit(ITEM.labels[pick])
