"""Input strategies shared by the fuzz tests: what people type, who they claim to be, card keys."""
from __future__ import annotations

from hypothesis import strategies as st

ACCOUNTS = ["zhuyan", "zhengji", "chuwei", "jianghan", "shenli", "wuhai", "nobody", "", "ZHUYAN", " zhuyan"]
COMMANDS = ["申请动火作业", "申请受限空间作业", "申请", "待办", "查询", "复制", "修改", "提交", "气体检测", "驳回",
            "退回", "暂停", "恢复", "绑定检测仪", "解绑检测仪", "验收不通过", "整改完成", "延期", "撤销", "取消",
            "采集人脸", "导出", "导出 台账", "导出 月报", "帮助"]
FIELDS = ["地点", "内容", "级别", "介质", "开始", "结束", "作业人", "监护人", "高度", "重量"]
PERMIT_NOS = ["DH-20261124-0001", "DH-99991231-9999", "SX-00000000-0000", "XX-1-1", "DH-20261124-00001"]
ACTIONS = ["permit.approve", "permit.reject", "permit.sign", "alarm.ack", "plan.confirm", "x", ""]

tricky = st.sampled_from(["", " ", "\n", "=cmd|' /C calc'!A0", "<script>", "'; DROP TABLE permit; --", "%s%n",
                          "9999-12-31 23:59", "0000-00-00", "2026-02-30 08:00", "-1", "1e309", "NaN", "∞",
                          "O2=abc", "H2S=-5", "CO=1e400", "\u202e", "\x00", "😀" * 5, "A" * 2000])
value = st.one_of(tricky, st.text(max_size=40), st.sampled_from(PERMIT_NOS + ACCOUNTS),
                  st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(str),
                  st.dates().map(str), st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M")))


@st.composite
def chat_text(draw) -> str:
    """A chat message: a command, arguments, maybe "field: value" lines, or anything at all."""
    if draw(st.booleans()):
        return draw(st.one_of(tricky, st.text(max_size=200)))
    head = draw(st.sampled_from(COMMANDS))
    args = draw(st.lists(value, max_size=4))
    lines = [" ".join([head, *args])]
    for _ in range(draw(st.integers(0, 6))):
        sep = draw(st.sampled_from([": ", "：", ":", "=", " "]))
        lines.append(f"{draw(st.sampled_from(FIELDS))}{sep}{draw(value)}")
    return "\n".join(lines)


@st.composite
def card_key(draw) -> str:
    """A button payload like permit.approve:<permit_no>:<step>, well formed or not."""
    parts = [draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(PERMIT_NOS) | st.text(max_size=12)),
             draw(st.sampled_from(["plan", "approve", "start", "gas", ""]) | st.text(max_size=8))]
    return ":".join(parts[:draw(st.integers(1, 4))])
