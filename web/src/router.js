// Client-side routes. The server sends index.html for every path outside
// /api, /metrics and the built files, so these URLs survive a reload.
import { createRouter, createWebHistory } from 'vue-router';

import OverviewView from './views/OverviewView.vue';
import NotificationsView from './views/NotificationsView.vue';
import QuarantineView from './views/QuarantineView.vue';

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', component: OverviewView },
    { path: '/quarantine', component: QuarantineView },
    { path: '/notifications', component: NotificationsView },
    { path: '/:unknown(.*)*', redirect: '/' },
  ],
});
