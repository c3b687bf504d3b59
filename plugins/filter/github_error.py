# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One plain line for a GitHub REST answer that is not what was asked for."""

from __future__ import annotations

DOCUMENTATION = r"""
name: github_error
short_description: Explain a GitHub REST API answer that is not what was asked for
version_added: 0.1.0
description:
  - Takes a registered M(ansible.builtin.uri) result and returns one line saying what went
    wrong and what to do - no answer, 401 (token wrong, expired or revoked), 403 (a missing
    permission, a disabled workflow or the rate limit), 404 (nothing there, or the token cannot
    see it), 422 (invalid request), else the status - with GitHub's own C(message).
options:
  _input:
    description: Registered result of M(ansible.builtin.uri) (C(status), C(json), C(msg)).
    type: dict
    required: true
  what:
    description: What was asked, after "to" (for example C(read the repository owner/repo)).
    type: str
    required: true
  api:
    description: The API's base URL, for "cannot reach".
    type: str
    default: https://api.github.com
  token_env:
    description: Environment variable the token comes from, for the 401 advice.
    type: str
    default: GITHUB_TOKEN
"""

EXAMPLES = r"""
- name: Refuse when the repository cannot be read
  ansible.builtin.fail:
    msg: "{{ repo_answer | maverick.rollback.github_error('read the repository ' ~ owner ~ '/' ~ repo) }}. Nothing was dispatched."
  when: repo_answer.status | default(-1) != 200
"""

RETURN = r"""
_value:
  description: One line, without a final full stop.
  type: str
"""

ADVICE = {
    401: "GitHub rejected the token when asked to {what} ({said}): it is wrong, expired or revoked; set a valid one in "
         "{token_env} or github_redeploy_token (AWX credential)",
    403: "GitHub refused to {what} ({said}): the token lacks a permission (fine-grained: Actions read and write, Contents "
         "read; classic: repo and workflow scopes), the workflow is disabled, or the rate limit is used up",
    404: "GitHub found nothing when asked to {what} ({said}): it does not exist, or the token cannot see the repository",
    422: "GitHub refused to {what} as invalid ({said})",
}


def _status(result):
    try:
        return int(result.get("status", -1))
    except (TypeError, ValueError):
        return -1


def github_error(result, what, api="https://api.github.com", token_env="GITHUB_TOKEN"):
    result = result or {}
    status = _status(result)
    if status == -1:
        return "cannot reach %s to %s: %s" % (api, what, result.get("msg", "no answer"))
    body = result.get("json")
    message = str(body.get("message", "") if isinstance(body, dict) else "").strip()
    said = "%d%s" % (status, (": " + message) if message else "")
    template = ADVICE.get(status, "GitHub answered HTTP {said} when asked to {what}")
    return template.format(what=what, said=said, token_env=token_env)


class FilterModule:
    """maverick.rollback GitHub filters."""

    def filters(self):
        return {"github_error": github_error}
