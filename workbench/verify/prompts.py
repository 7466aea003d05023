"""The prompts that ask a model for a reasoning path in numbered steps: a few-shot completion prompt for base models
and a system message for chat models, for math and for code tasks. The verify stage samples paths with them; the
student's probe asks the student with the same prompts, so both are judged on alike paths."""

from __future__ import annotations

from workbench.verify.verifiers.base import Task

COMPLETION_STOP = ["\nProblem:", "\n\n\n\n"]


def is_code_task(task: Task) -> bool:
    return bool(task.tests) or task.domain == "code"


FEW_SHOT_MATH = """Solve each problem step by step. Number the steps, show every calculation, and end with the final answer.

Problem: A box holds 12 pencils. Tom has 5 boxes and loses 7 pencils. How many pencils does he have left?
Solution:
Step 1: 5 boxes hold 5 * 12 = 60 pencils.
Step 2: After losing 7 pencils he has 60 - 7 = 53 pencils.
Answer: 53

Problem: A shirt costs $40 and is discounted by 15%. What is the sale price in dollars?
Solution:
Step 1: The discount is 15% of $40 = $6.
Step 2: The sale price is $40 - $6 = $34.
Answer: 34

"""

FEW_SHOT_CODE = """Solve each problem step by step. Number the steps and end with the complete Python code.

Problem: Write a Python function `double_all(xs: list[int]) -> list[int]` that returns every number doubled.
Solution:
Step 1: Go through the list once and multiply each number by 2.
Step 2: Collect the results in a new list, in order.
Step 3: The code:
```python
def double_all(xs: list[int]) -> list[int]:
    return [2 * x for x in xs]
```

"""

CHAT_SYSTEM_MATH = (
    "Solve the problem step by step. Write each step on its own line as 'Step k: ...' and show every "
    "calculation. End with a last line 'Answer: <final answer>'."
)
CHAT_SYSTEM_CODE = (
    "Solve the problem step by step. Write each step on its own line as 'Step k: ...'. The last step "
    "gives the complete Python solution in one ```python code block."
)


def completion_prompt(task: Task) -> str:
    """A few-shot prompt a base model continues; it ends at 'Step 1:' so the model writes numbered steps."""
    shots = FEW_SHOT_CODE if is_code_task(task) else FEW_SHOT_MATH
    return f"{shots}Problem: {task.text}\nSolution:\nStep 1:"


def chat_messages(task: Task) -> list[dict]:
    """A system message asking for numbered steps, and the problem (with its input) as the user turn."""
    system = CHAT_SYSTEM_CODE if is_code_task(task) else CHAT_SYSTEM_MATH
    return [{"role": "system", "content": system}, {"role": "user", "content": task.text}]
