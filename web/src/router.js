// Client-side routes. The server sends index.html for every path outside
// /api, /metrics and the built files, so these URLs survive a reload.
import { createRouter, createWebHistory } from 'vue-router';

import { api } from './lib/api.js';
import LoginView from './views/LoginView.vue';
import AlertsView from './views/AlertsView.vue';
import NotificationsView from './views/NotificationsView.vue';
import OverviewView from './views/OverviewView.vue';
import QuarantineView from './views/QuarantineView.vue';
import RulesView from './views/RulesView.vue';
import { session } from './state.js';
import TaskDetailView from './views/TaskDetailView.vue';
import TasksView from './views/TasksView.vue';

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', component: LoginView },
    { path: '/', component: OverviewView },
    { path: '/alerts', component: AlertsView },
    { path: '/rules', component: RulesView },
    { path: '/notifications', component: NotificationsView },
    { path: '/quarantine', component: QuarantineView },
    { path: '/tasks', component: TasksView },
    { path: '/tasks/:id', component: TaskDetailView },
    { path: '/:unknown(.*)*', redirect: '/' },
  ],
});

// Every page but the login page needs a session; without one the login page
// is shown and returns to the requested page afterwards.
router.beforeEach(async (to) => {
  if (to.path === '/login') {
    return true;
  }
  try {
    const me = await api.me();
    session.user = me.user;
    session.principal = me.principal;
    return true;
  } catch (error) {
    if (error.status === 401) {
      return { path: '/login', query: { next: to.fullPath } };
    }
    return true;
  }
});
