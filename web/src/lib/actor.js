// The person acting on tasks, remembered in localStorage. The API has no
// login yet, so the dashboard sends this with every task action.
import { reactive, watch } from 'vue';

const STORAGE_KEY = 'oversight.actor';

function saved() {
  try {
    const value = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (value && typeof value.person === 'string') {
      return value;
    }
  } catch {
    // Storage can be disabled or hold something else; start empty.
  }
  return { person: '', role: 'dispatcher', department: '' };
}

export const actor = reactive(saved());

watch(actor, (value) => {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  } catch {
    // See saved().
  }
});

// Returns the actor as the API expects it, or null when no person is set.
export function actorBody() {
  if (!actor.person.trim()) {
    return null;
  }
  return {
    person: actor.person.trim(),
    role: actor.role,
    department: actor.department.trim() || null,
  };
}

export const ROLES = ['dispatcher', 'department_staff', 'supervisor', 'reviewer'];
