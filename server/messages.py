"""Error messages in Chinese, by code. Every 4xx and 5xx body says `message` in Chinese for the
people who read it and keeps the English beside it in `message_en` (and the same for each
item); codes never change, so programs keep matching on them. The English carries the
specifics (names, counts); the Chinese says what is wrong and where, from the code and the
location."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

INCIDENT = re.compile(r"incident ([0-9A-Za-z-]+)")

# What the answer as a whole says.
ANSWER = {
    "invalid_project": "项目的事实有误，请按各项错误修改",
    "invalid_request": "请求有误，请按各项错误修改",
    "invalid_json": "请求正文不是有效的 JSON",
    "not_found": "没有找到所请求的内容",
    "decision_log_unavailable": "决定日志暂时无法写入或读取，本次决定未给出，请稍后重试",
    "admin_disabled": "管理接口未启用（未设置 ZHENGCE_ADMIN_KEY）",
    "unauthorized": "需要有效的 X-API-Key",
    "policy_errors": "政策集有错误，未载入；原有版本继续服务",
    "not_ready": "服务尚未就绪，请稍后重试",
    "reload_incomplete": "新版本尚未到达所有工作进程",
    "internal_error": "服务器处理本请求时出错，已记录",
    "bad_request": "请求格式有误",
    "forbidden": "不允许此操作",
    "method_not_allowed": "此地址不接受该请求方法",
    "not_acceptable": "无法以所要求的格式答复",
    "body_too_large": "请求正文超过上限",
    "unsupported_media_type": "请求正文须为 application/json",
    "request_timeout": "请求头未在时限内送达，连接已关闭",
    "headers_too_large": "请求头超过上限",
    "busy": "同时处理的批量请求已达上限，请稍后重试",
    "explain_limit": "批量请求中要求解释的项目过多",
    "cross_origin": "拒绝来自其他网站的修改请求",
}

# What one error item says about its location.
ITEM = {
    "missing_field": "缺少必填的事实",
    "unknown_field": "事实模式中没有这个字段",
    "unknown_enum_value": "没有这个选项",
    "wrong_type": "类型不对，或含有无效的 Unicode 字符",
    "out_of_range": "数值超出允许范围",
    "bad_region": "须为以“/”分隔的行政区路径，每一级都不能为空",
    "bad_date": "须为 年-月-日 格式的真实日期",
    "too_long": "太长",
    "too_short": "太短",
    "invalid_value": "取值无效",
    "bad_format": "格式不对",
    "invalid_json": "不是有效的 JSON",
    "unknown_document": "没有这个文件",
    "unknown_clause": "文件中没有这个条款",
    "unknown_policy": "没有这个政策",
    "unknown_decision": "日志中没有这个决定",
    "bad_api_key": "缺少或错误",
    "warming": "正在打开检索索引和模型",
    "no_policy_set": "本工作进程暂无可服务的政策集",
    "worker_behind": "该工作进程尚未切换到新版本",
    "body_too_large": "超过上限",
}


def bilingual(body: Mapping[str, Any]) -> dict[str, Any]:
    """An error body `{code, message, errors}` with Chinese messages and the English kept in
    `message_en`, at the top and in each item. An item that already says both (a policy
    file's diagnostic, dsl.diagnostic_text) keeps its own; a code without a Chinese text
    keeps its English in both (it is then still a stable code)."""
    english = str(body["message"])
    errors = [_item(e) for e in body.get("errors", [])]
    zh = ANSWER.get(str(body["code"]))
    if zh is None:
        message = english
    else:
        # The specifics a reader acts on: where the errors are, and the incident to quote.
        places = list(dict.fromkeys(e["location"] for e in errors))
        incident = INCIDENT.search(english)
        message = zh + (f"：{'、'.join(places)}" if places else "")
        message += f"（事件编号 {incident.group(1)}）" if incident else ""
    return {"code": body["code"], "message": message, "message_en": english, "errors": errors}


def _item(error: Mapping[str, str]) -> dict[str, str]:
    where = error["location"]
    if "message_en" in error:
        return dict(error)
    zh = ITEM.get(error["code"])
    return {
        "code": error["code"],
        "message": f"{where}：{zh}" if zh else error["message"],
        "message_en": error["message"],
        "location": where,
    }
