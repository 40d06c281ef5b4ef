// The report page's own dictionary, in the inspector app's pattern (typed keys, zh-CN first,
// `en` with exactly the zh keys and placeholders, checked by the compiler and by a test). Not
// imported from `../lib/i18n`: that module's language is the inspector device's setting, and
// this page follows the phone's language. The translate function is `rt`, so the inspector
// app's key check (which reads every `t('…')` under src/) does not take these keys for its own.
import { ref } from 'vue'

export const zh = {
  app_title: '创文随手拍',
  lang_switch: 'English',
  loading: '加载中…',
  retry: '重试',
  refresh: '刷新',
  cancel: '取消',
  confirm: '确定',
  delete: '删除',
  tab_report: '上报',
  tab_mine: '我的上报',
  tab_team: '队员',
  err_network: '网络连接失败，请稍后再试。',
  err_unknown: '操作失败：{message}',
  who_volunteer: '{name} · {team}',
  who_anonymous: '匿名上报',
  landing_title: '文明城市 随手拍',
  landing_text: '看到影响市容环境、公共秩序的问题，拍照上报，创城办会派单处理并告诉你结果。',
  landing_invite: '志愿者请打开所在队伍的邀请链接（向队长索取链接或二维码）加入队伍后上报。',
  landing_anonymous: '匿名上报',
  landing_anonymous_hint: '不加入队伍也可以匿名上报：进展只能在这部手机上查看。',
  join_title: '加入志愿者队伍',
  join_team: '队伍',
  join_name: '姓名',
  join_name_ph: '请填写真实姓名',
  join_phone: '手机号',
  join_phone_ph: '11 位手机号',
  join_submit: '申请加入',
  join_name_invalid: '请填写姓名（1–32 个字）',
  join_phone_invalid: '请填写 11 位手机号（以 1 开头）',
  join_invite_invalid: '邀请链接无效或已失效，请向队长索取新的链接。',
  join_already: '你已是 {team} 的队员',
  join_go_home: '去上报',
  pending_title: '已提交，等待队长或创城办审核',
  pending_text: '审核通过后即可上报问题。可以稍后重新打开本页面查看审核结果。',
  pending_check: '刷新审核状态',
  pending_still: '仍在审核中',
  rejected_title: '未通过审核',
  rejected_text: '如有疑问，请联系队长或创城办。',
  report_title: '随手拍上报',
  report_photo: '现场照片',
  report_take_photo: '拍照',
  report_gallery: '从相册选择',
  report_retake: '重拍',
  report_photo_failed: '照片无法读取，请重新拍照',
  report_category: '问题类别',
  report_more: '更多',
  report_all_categories: '全部问题类别',
  report_location: '位置',
  report_locating: '定位中…',
  report_accuracy: '±{accuracy} 米',
  report_gps: '当前定位',
  report_relocate: '重新定位',
  report_pin: '地图选点',
  report_pin_set: '已在地图上选点',
  report_use_gps: '改用当前定位',
  report_gps_denied: '未获得定位权限',
  report_gps_unavailable: '暂时无法定位',
  report_no_gps_hint: '定位不可用时，可在地图上选点或填写详细地址',
  report_address_only: '将按填写的地址上报',
  report_address: '地址',
  report_address_ph: '详细地址（无法定位时必填）',
  report_description: '问题描述',
  report_description_ph: '例如：人行道上有暴露垃圾约 2 平方米',
  report_submit: '提交上报',
  report_need_photo: '请先拍摄现场照片',
  report_need_category: '请选择问题类别',
  report_need_location: '请定位、在地图上选点，或填写详细地址',
  report_sent: '已上报，编号 {code}',
  report_queued: '已保存在手机上，联网后自动发送',
  report_save_failed: '无法保存到手机：{message}',
  nearby_title: '附近已有人上报',
  nearby_text: '如果是同一个问题，请把你的照片补充到已有的上报，不必重复上报。',
  nearby_add: '补充我的照片',
  nearby_new: '仍然新建上报',
  nearby_distance: '{distance} 米',
  photo_added: '照片已补充到 {code}',
  map_no_tiles: '未配置底图：只显示网格，请以蓝点（当前定位）为参照选点',
  map_pick_hint: '点按地图放置位置',
  mine_title: '我的上报',
  mine_empty: '还没有上报',
  mine_after: '整改后',
  mine_duplicate: '与 {code} 合并',
  mine_note: '处理说明',
  mine_reported_at: '上报于 {time}',
  team_title: '队员审核',
  team_empty: '队伍还没有队员',
  team_approve: '通过',
  team_reject: '不通过',
  team_reject_confirm: '确定不通过 {name} 的申请？',
  team_stats: '上报 {reports} 条 · 确认 {confirmed} 条',
  team_leader: '队长',
  team_done: '已处理',
  vstatus_pending: '待审核',
  vstatus_approved: '已通过',
  vstatus_rejected: '未通过',
  vstatus_anonymous: '匿名',
  queue_banner: '离线：{n} 条上报待发送',
  queue_failed: '{n} 条上报未被接受',
  queue_rejoin: '登录已失效：请通过队伍邀请链接重新加入，待发送的上报会随后发出',
  queue_title: '待发送的上报',
  queue_send_now: '立即发送',
  queue_sending: '发送中…',
  queue_waiting: '等待发送',
  queue_last_error: '上次失败：{message}',
  queue_refused: '未被接受：{message}',
  queue_photo_to: '补充照片到 {code}',
  queue_delete_confirm: '删除这条上报？删除后无法恢复。',
  queue_retry: '再试一次',
} as const

export type Key = keyof typeof zh
export type Dict = Record<Key, string>

export const en: Dict = {
  app_title: 'Report a problem',
  lang_switch: '中文',
  loading: 'Loading…',
  retry: 'Retry',
  refresh: 'Refresh',
  cancel: 'Cancel',
  confirm: 'OK',
  delete: 'Delete',
  tab_report: 'Report',
  tab_mine: 'My reports',
  tab_team: 'Members',
  err_network: 'No connection to the server. Try again later.',
  err_unknown: 'Failed: {message}',
  who_volunteer: '{name} · {team}',
  who_anonymous: 'Anonymous reporting',
  landing_title: 'Civilized city: snap and report',
  landing_text: 'See a problem with the streets or public order? Take a photo and report it: the city office dispatches it and tells you the result.',
  landing_invite: "Volunteers: open your team's invite link (ask your team leader for the link or QR code) and join the team to report.",
  landing_anonymous: 'Report anonymously',
  landing_anonymous_hint: 'You can also report without joining a team: you follow your reports on this phone only.',
  join_title: 'Join a volunteer team',
  join_team: 'Team',
  join_name: 'Name',
  join_name_ph: 'Your real name',
  join_phone: 'Mobile',
  join_phone_ph: '11-digit mobile number',
  join_submit: 'Apply to join',
  join_name_invalid: 'Enter your name (1–32 characters)',
  join_phone_invalid: 'Enter an 11-digit mobile number starting with 1',
  join_invite_invalid: 'This invite link is not valid any more. Ask your team leader for a new one.',
  join_already: 'You are a member of {team}',
  join_go_home: 'Report',
  pending_title: 'Sent: waiting for the team leader or the city office to approve',
  pending_text: 'Once approved you can report problems. Open this page again later to see the decision.',
  pending_check: 'Check again',
  pending_still: 'Still waiting for approval',
  rejected_title: 'Not approved',
  rejected_text: 'Ask your team leader or the city office if you have questions.',
  report_title: 'Report a problem',
  report_photo: 'Photo',
  report_take_photo: 'Take a photo',
  report_gallery: 'From the gallery',
  report_retake: 'Retake',
  report_photo_failed: 'Cannot read the photo; take it again',
  report_category: 'Category',
  report_more: 'More',
  report_all_categories: 'All categories',
  report_location: 'Location',
  report_locating: 'Locating…',
  report_accuracy: '±{accuracy} m',
  report_gps: 'Current position',
  report_relocate: 'Locate again',
  report_pin: 'Pick on the map',
  report_pin_set: 'Picked on the map',
  report_use_gps: 'Use my position',
  report_gps_denied: 'No permission to locate',
  report_gps_unavailable: 'Cannot locate now',
  report_no_gps_hint: 'Without a position, pick the place on the map or type the full address',
  report_address_only: 'The report will be placed by the address you typed',
  report_address: 'Address',
  report_address_ph: 'Full address (required when the phone cannot locate)',
  report_description: 'Description',
  report_description_ph: 'e.g. exposed garbage on the pavement, about 2 m²',
  report_submit: 'Send report',
  report_need_photo: 'Take a photo of the problem first',
  report_need_category: 'Choose a category',
  report_need_location: 'Locate, pick the place on the map, or type the full address',
  report_sent: 'Reported as {code}',
  report_queued: 'Saved on this phone; it is sent when there is a connection',
  report_save_failed: 'Cannot save on this phone: {message}',
  nearby_title: 'Already reported nearby',
  nearby_text: 'If it is the same problem, add your photo to that report instead of reporting it again.',
  nearby_add: 'Add my photo',
  nearby_new: 'Report as new anyway',
  nearby_distance: '{distance} m',
  photo_added: 'Photo added to {code}',
  map_no_tiles: 'No basemap configured: only a grid; use the blue dot (your position) as the reference',
  map_pick_hint: 'Tap the map to place the report',
  mine_title: 'My reports',
  mine_empty: 'No reports yet',
  mine_after: 'After',
  mine_duplicate: 'Merged with {code}',
  mine_note: 'Note from the office',
  mine_reported_at: 'Reported {time}',
  team_title: 'Approve members',
  team_empty: 'The team has no members yet',
  team_approve: 'Approve',
  team_reject: 'Decline',
  team_reject_confirm: "Decline {name}'s application?",
  team_stats: '{reports} reports · {confirmed} confirmed',
  team_leader: 'Leader',
  team_done: 'Done',
  vstatus_pending: 'Pending',
  vstatus_approved: 'Approved',
  vstatus_rejected: 'Declined',
  vstatus_anonymous: 'Anonymous',
  queue_banner: 'Offline: {n} reports waiting to be sent',
  queue_failed: '{n} reports were not accepted',
  queue_rejoin: 'Signed out: join again through your team\'s invite link; waiting reports are sent then',
  queue_title: 'Reports waiting to be sent',
  queue_send_now: 'Send now',
  queue_sending: 'Sending…',
  queue_waiting: 'Waiting',
  queue_last_error: 'Last try failed: {message}',
  queue_refused: 'Not accepted: {message}',
  queue_photo_to: 'Photo for {code}',
  queue_delete_confirm: 'Delete this report? It cannot be recovered.',
  queue_retry: 'Try again',
}

export type Lang = 'zh-CN' | 'en'
export const dictionaries: Record<Lang, Dict> = { 'zh-CN': zh, en }

const KEY = 'fieldcheck.report.lang'

/** The person's own switch, else the phone's language: English only for an English phone. */
export function initialLang(saved: string | null, navLang: string | undefined): Lang {
  if (saved === 'en' || saved === 'zh-CN') return saved
  return navLang?.toLowerCase().startsWith('en') ? 'en' : 'zh-CN'
}

function stored(): string | null {
  try {
    return globalThis.localStorage?.getItem(KEY) ?? null
  } catch {
    return null
  }
}

export const lang = ref<Lang>(initialLang(stored(), globalThis.navigator?.language))

export function setLang(l: Lang): void {
  lang.value = l
  try {
    globalThis.localStorage?.setItem(KEY, l)
  } catch {
    /* no storage (private mode) */
  }
  if (globalThis.document) document.documentElement.lang = l
}

export function format(template: string, params?: Record<string, string | number>): string {
  if (!params) return template
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m))
}

/** Reactive translation: reads `lang`, so templates re-render on a switch. */
export function rt(key: Key, params?: Record<string, string | number>): string {
  return format(dictionaries[lang.value][key] ?? zh[key], params)
}
