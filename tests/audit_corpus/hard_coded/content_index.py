# ruff: noqa: F821
# item: openbookqa/7-791
# family: content_literal
# note: the option is looked up by its text
solver_call(f"{ITEM.question}\nAnswer:", max_tokens=8)
submit(ITEM.labels[ITEM.choices.index("use what people breathe out to survive")])
