"""UI strings of sign-in, the header's account line and the admin page; merged into i18n."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    # -- sign-in -------------------------------------------------------------------------
    "signin_title": ("登录", "Sign in"),
    "signin_username": ("账号", "Account"),
    "signin_password": ("密码", "Password"),
    "signin_submit": ("登录", "Sign in"),
    "signin_failed": ("账号或密码不正确，或账号已停用", "Wrong account or password, or the "
                      "account is disabled"),
    "signin_limited": ("尝试次数过多，请 {n} 分钟后再试",
                       "Too many attempts; try again in {n} min"),
    "signin_expired": ("登录已过期，请重新登录", "Your session has ended; sign in again"),
    "signin_revoked": ("本大屏链接已停用，请联系管理员", "This screen's link was revoked; ask an "
                       "administrator"),
    "signin_sso": ("本系统通过单位统一身份认证登录",
                   "Sign in through the intranet's single sign-on"),
    "signin_wall_hint": ("大屏请使用管理员发放的大屏链接打开", "Wall screens open with the kiosk "
                         "link an administrator gives them"),
    "kiosk_invalid": ("大屏链接无效或已停用", "This kiosk link is invalid or revoked"),
    "forbidden": ("无权访问此页面", "You may not open this page"),
    "forbidden_hint": ("当前账号：{who}", "Signed in as {who}"),
    "signout": ("退出", "Sign out"),
    "sso_unknown": ("单点登录账号未在本系统登记", "This single sign-on account is not registered "
                    "here"),
    # -- personal data ------------------------------------------------------------------------
    "pd_caller": ("报警人", "Caller"),
    "pd_phone": ("联系电话", "Phone"),
    "pd_id": ("身份证号", "ID number"),
    "pd_id_on_file": ("已登记（不显示）", "on file (never shown)"),
    "pd_reveal": ("查看完整信息（留痕）", "Show in full (audited)"),
    "pd_revealed": ("已显示完整信息，本次查看已记录", "Shown in full; this view is recorded"),
    "pd_masked_note": ("个人信息已按权限脱敏", "Personal data masked for your role"),
    # -- admin ---------------------------------------------------------------------------------
    "adm_title": ("系统管理", "Administration"),
    "adm_users": ("账号", "Accounts"),
    "adm_kiosks": ("大屏链接", "Kiosk links"),
    "adm_audit": ("审计日志", "Audit log"),
    "adm_role": ("角色", "Role"),
    "adm_villages": ("负责村社", "Villages"),
    "adm_state": ("状态", "State"),
    "adm_enabled": ("启用", "enabled"),
    "adm_disabled": ("已停用", "disabled"),
    "adm_last": ("最近登录", "Last sign-in"),
    "adm_created": ("创建", "Created"),
    "adm_add_user": ("新增账号", "Add account"),
    "adm_disable": ("停用", "Disable"),
    "adm_enable": ("启用", "Enable"),
    "adm_set_role": ("修改角色", "Set role"),
    "adm_add_kiosk": ("新建大屏链接", "New kiosk link"),
    "adm_revoke": ("停用链接", "Revoke"),
    "adm_link_once": ("大屏链接（请复制到大屏浏览器）：", "Kiosk link (open it on the screen):"),
    "adm_password_once": ("初始密码（仅显示一次）：", "Initial password (shown once):"),
    "adm_done": ("已完成", "Done"),
    "adm_at": ("时间", "When"),
    "adm_actor": ("操作人", "Who"),
    "adm_action": ("操作", "Action"),
    "adm_target": ("对象", "What"),
    "adm_origin": ("来源地址", "From"),
    "adm_detail": ("说明", "Note"),
    "adm_audit_total": ("共 {n} 条（最新在前）", "{n} entries (newest first)"),
    "role_wall": ("大屏", "wall"),
    "role_leader": ("领导", "leader"),
    "role_staff": ("工作人员", "staff"),
    "role_admin": ("管理员", "admin"),
}
