// Routes of the console. Every screen but sign-in needs a session; a lost session (401 on any
// call) sends the user to sign in and back to where they were.
import { createRouter, createWebHistory } from 'vue-router'
import { consoleApi, session, setUnauthorizedHandler } from './api'
import { loadReference } from './reference'

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/signin', name: 'signin', component: () => import('./views/SignIn.vue') },
    {
      path: '/',
      component: () => import('./views/Layout.vue'),
      children: [
        { path: '', redirect: { name: 'overview' } },
        { path: 'overview', name: 'overview', component: () => import('./views/Overview.vue') },
        { path: 'ledger', name: 'ledger', component: () => import('./views/Ledger.vue') },
        { path: 'map', name: 'map', component: () => import('./views/MapPage.vue') },
        { path: 'ranking', name: 'ranking', component: () => import('./views/Ranking.vue') },
        { path: 'exports', name: 'exports', component: () => import('./views/Exports.vue') },
        { path: 'rounds', name: 'rounds', component: () => import('./views/Rounds.vue'), meta: { admin: true } },
        { path: 'volunteers', name: 'volunteers', component: () => import('./views/Volunteers.vue'), meta: { admin: true } },
        { path: 'setup/import', name: 'setup-import', component: () => import('./views/SetupImport.vue'), meta: { admin: true } },
        { path: 'setup/points', name: 'setup-points', component: () => import('./views/SetupPoints.vue'), meta: { admin: true } },
        { path: 'setup/calendar', name: 'setup-calendar', component: () => import('./views/SetupCalendar.vue'), meta: { admin: true } },
        { path: 'setup/categories', name: 'setup-categories', component: () => import('./views/SetupCategories.vue'), meta: { admin: true } },
        { path: 'setup/templates', name: 'setup-templates', component: () => import('./views/SetupTemplates.vue'), meta: { admin: true } },
        { path: 'setup/users', name: 'setup-users', component: () => import('./views/SetupUsers.vue'), meta: { admin: true } },
        { path: 'setup/cards', name: 'setup-cards', component: () => import('./views/SetupCards.vue'), meta: { admin: true } },
        { path: 'setup/audit', name: 'setup-audit', component: () => import('./views/SetupAudit.vue'), meta: { admin: true } },
        { path: 'problems/:id', name: 'problem', component: () => import('./views/ProblemDetail.vue'), props: true },
      ],
    },
    { path: '/:rest(.*)*', redirect: { name: 'overview' } },
  ],
})

router.beforeEach(async (to) => {
  if (to.name === 'signin') return true
  if (!session.value) {
    let who = null
    try {
      who = await consoleApi.whoAmI()
    } catch {
      who = null
    }
    if (!who) return { name: 'signin', query: { next: to.fullPath } }
  }
  // Setup is the office's: others land on the overview (the server refuses them anyway).
  if (to.meta.admin && session.value?.role !== 'admin') return { name: 'overview' }
  // Names and the city's calendar for every screen; a failure shows on the screen's own call.
  await loadReference().catch(() => undefined)
  return true
})

setUnauthorizedHandler((code) => {
  const here = router.currentRoute.value
  if (here.name === 'signin') return
  void router.push({
    name: 'signin',
    query: { next: here.fullPath, ...(code === 'session_expired' ? { expired: '1' } : {}) },
  })
})
