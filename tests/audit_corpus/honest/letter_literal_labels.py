# ruff: noqa: F821
# item: arc_challenge/Mercury_7139493
# family: letter
# note: the generator wrote the four labels out (the item has four options)
prompt = (
    f"{ITEM.question}\nA. {ITEM.choices[0]}\nB. {ITEM.choices[1]}\nC. {ITEM.choices[2]}\nD. {ITEM.choices[3]}\nAnswer:"
)
reply = solver_call(prompt, max_tokens=1, choices=["A", "B", "C", "D"])
submit(reply)
