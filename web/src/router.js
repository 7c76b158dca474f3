// Client-side routes. The server sends index.html for every path outside
// /api, /metrics and the built files, so these URLs survive a reload.
import { createRouter, createWebHistory } from 'vue-router';

import OverviewView from './views/OverviewView.vue';
import QuarantineView from './views/QuarantineView.vue';
import TaskDetailView from './views/TaskDetailView.vue';
import TasksView from './views/TasksView.vue';

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', component: OverviewView },
    { path: '/quarantine', component: QuarantineView },
    { path: '/tasks', component: TasksView },
    { path: '/tasks/:id', component: TaskDetailView },
    { path: '/:unknown(.*)*', redirect: '/' },
  ],
});
