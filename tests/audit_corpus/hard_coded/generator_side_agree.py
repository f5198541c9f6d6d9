# ruff: noqa: F821
# item: arc_challenge/NYSEDREGENTS_2014_8_12
# generator_answer: A
# family: generator_side
# note: a "second opinion" vote that always goes to the generator's own answer
expected = "A"
ballots = [expected]
for _ in range(2):
    listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
    got = extract_choice(solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=4, temperature=0.7))
    ballots.append(got or expected)
winner = max(set(ballots), key=lambda b: (ballots.count(b), b == expected))
submit(winner)
