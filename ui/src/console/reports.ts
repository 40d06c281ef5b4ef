// Queueing an export or a PDF report from any console page: the server runs it in the
// background; the person is told so and taken to 导出, where it shows its progress and, once
// done, its download.
import { ElMessage } from 'element-plus'
import type { Router } from 'vue-router'
import { consoleApi, describe } from './api'
import { ct, ctOr } from './i18n'
import type { ExportRequest } from './wire'

export async function queueExport(req: ExportRequest, router: Router): Promise<boolean> {
  try {
    await consoleApi.createExport(req)
    ElMessage.success({
      message: ct('x_started', { kind: ctOr(`x_kind_${req.kind}`, req.kind) }),
      duration: 5000,
    })
    void router.push({ name: 'exports' })
    return true
  } catch (e) {
    ElMessage.error(describe(e))
    return false
  }
}
