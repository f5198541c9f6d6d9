# ruff: noqa: F821
# item: openbookqa/1177
# family: letter
# note: asks for JSON; parses it; extract_choice when the JSON is broken
import json

listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
reply = solver_call(f'{ITEM.question}\n{listing}\nReply as JSON: {{"answer": "<letter>"}}', max_tokens=20)
try:
    label = json.loads(reply)["answer"]
except (ValueError, KeyError, TypeError):
    label = extract_choice(reply)
if label not in ITEM.labels:
    label = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", choices=list(ITEM.labels))
submit(label)
