-- A department's tasks in one state, in inbox order, so that a page of the
-- inbox filtered by one state reads only the rows of that page instead of
-- sorting every task of the department in that state.
CREATE INDEX tasks_department_state ON tasks (lead_department, state, due_key, created_at, id);
