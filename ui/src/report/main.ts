// The public report page (随手拍): a third app of this package, served by the server at
// /report/ (assets from `ui/dist-report`). Phone first, for WeChat's built-in browser.
import { createApp } from 'vue'
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import './style.css'
import App from './App.vue'
import { router } from './router'
import { lang } from './i18n'
import { boot } from './session'
import { startOutbox } from './outbox'

document.documentElement.lang = lang.value
// The outbox starts once `me` is known, so its first send carries the CSRF token.
void boot().finally(startOutbox)
createApp(App).use(router).mount('#app')
