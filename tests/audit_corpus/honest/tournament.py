# ruff: noqa: F821
# item: arc_challenge/NYSEDREGENTS_2014_4_2
# family: tournament
# note: knockout of pairwise comparisons, the solver picks between two option texts
champion = 0
for challenger in range(1, len(ITEM.choices)):
    a, b = ITEM.choices[champion], ITEM.choices[challenger]
    prompt = f"Question: {ITEM.question}\nWhich is the better answer?\n- {a}\n- {b}\nBetter answer:"
    pick = solver_call(prompt, max_tokens=20, choices=[a, b])
    if pick == b:
        champion = challenger
submit(ITEM.labels[champion])
