# cgr template scaffold: elimination
#
# Judge each option on its own ("is this proposed answer correct? Yes/No"), drop the options the
# solver rejects, then decide among the survivors with one letter question that shows only them.
# A small model that cannot weigh every option at once can still judge one at a time; the program
# keeps the tally and narrows the choice.
#
# Solver calls (n options): n solver_logprobs (one per option, " Yes" against " No"), plus one
# solver_call when two or more options survive. At most n + 1; exactly n when one survives, or none
# does (then the least-rejected option is submitted).
# ruff: noqa: F821
# mypy: ignore-errors
# (ITEM, solver_call, solver_logprobs, submit: the scaffold API's globals, unknown to linters)


def header():
    lines = []
    if ITEM.context:
        lines.append("Context: " + ITEM.context)
    lines.append("Question: " + ITEM.question)
    return "\n".join(lines)


def margin(choice):
    """log P(Yes) - log P(No) that ``choice`` answers the question."""
    prompt = (
        header()
        + "\nProposed answer: "
        + choice.strip()
        + "\nIs the proposed answer correct? Answer Yes or No.\nAnswer:"
    )
    yes, no = solver_logprobs(prompt, [" Yes", " No"])
    return yes - no


margins = [margin(choice) for choice in ITEM.choices]
for label, choice, m in zip(ITEM.labels, ITEM.choices, margins):
    print(f"{label} {choice[:40]!r}: yes-no {m:+.3f}")
survivors = [i for i, m in enumerate(margins) if m > 0]
if not survivors:  # every option rejected: keep the least-rejected one
    survivors = [max(range(len(margins)), key=lambda i: margins[i])]
if len(survivors) == 1:
    submit(ITEM.labels[survivors[0]])

# Two or more survive: ask once, showing only them (relabelled A, B, ... in their original order).
letters = [chr(ord("A") + k) for k in range(len(survivors))]
options = "\n".join(f"{letter}. {ITEM.choices[i]}" for letter, i in zip(letters, survivors))
prompt = header() + "\n" + options + "\nAnswer with the letter of the correct option only.\nAnswer:"
reply = solver_call(prompt, max_tokens=2, choices=letters).strip()
if reply in letters:
    pick = survivors[letters.index(reply)]
else:  # not one of the letters (a solver that ignores choices): the strongest survivor
    pick = max(survivors, key=lambda i: margins[i])
print(f"survivors {[ITEM.labels[i] for i in survivors]}, decided {ITEM.labels[pick]}")
submit(ITEM.labels[pick])
