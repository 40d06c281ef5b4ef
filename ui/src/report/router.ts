// Hash routes, so the server serves only index.html and the assets under /report/. The form
// (home) and the join page are what a phone opens first from a link: in the entry chunk; the
// rest loads when first opened.
import { createRouter, createWebHashHistory } from 'vue-router'
import Home from './views/Home.vue'
import Join from './views/Join.vue'
import { me } from './api'
import { ready, refreshMe } from './session'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', name: 'home', component: Home },
    { path: '/join/:code', name: 'join', component: Join, props: true },
    { path: '/mine', name: 'mine', component: () => import('./views/Mine.vue') },
    { path: '/team', name: 'team', component: () => import('./views/Team.vue'), meta: { leader: true } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  if (!to.meta.leader) return true
  if (!ready.value) await refreshMe()
  return me.value?.leader ? true : { name: 'home' }
})
