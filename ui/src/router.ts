import { createRouter, createWebHashHistory } from 'vue-router'
import Home from './views/Home.vue'

// Hash history: works from the bridge, from a file and from Tauri's custom scheme alike.
// Every screen but Home is its own chunk, loaded when first opened.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', name: 'home', component: Home },
    { path: '/points', name: 'points', component: () => import('./views/Points.vue') },
    { path: '/tasks', name: 'tasks', component: () => import('./views/Tasks.vue') },
    { path: '/points/:id', name: 'point', component: () => import('./views/PointDetail.vue'), props: true },
    { path: '/inspections/:id', name: 'inspection', component: () => import('./views/Inspection.vue'), props: true },
    { path: '/report', name: 'report', component: () => import('./views/Report.vue') },
    { path: '/ledger', name: 'ledger', component: () => import('./views/Ledger.vue') },
    { path: '/problems/:id', name: 'problem', component: () => import('./views/ProblemDetail.vue'), props: true },
    { path: '/enroll', name: 'enroll', component: () => import('./views/Enroll.vue') },
    { path: '/sync', name: 'sync', component: () => import('./views/Sync.vue') },
    { path: '/settings', name: 'settings', component: () => import('./views/Settings.vue') },
  ],
})
