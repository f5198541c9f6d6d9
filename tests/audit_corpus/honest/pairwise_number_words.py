# ruff: noqa: F821
# item: sciq/validation-00076
# family: tournament
# note: "which of these two" prompts over options that are number words
n = len(ITEM.choices)
wins = [0] * n
for i in range(n):
    for j in range(i + 1, n):
        pair = f"A. {ITEM.choices[i]}\nB. {ITEM.choices[j]}\n"
        prompt = f"{ITEM.question}\nWhich of these two answers is correct?\n{pair}"
        reply = solver_call(prompt + "Answer with A or B.", max_tokens=2, choices=["A", "B"])
        wins[j if reply == "B" else i] += 1
submit(ITEM.labels[wins.index(max(wins))])
