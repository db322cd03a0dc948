"""Bitbucket Cloud login: OAuthenticator's BitbucketOAuthenticator on today's Bitbucket API.

What OAuthenticator 17.4.0 does for workspaces (oauthenticator/bitbucket.py): when
``allowed_teams`` is set, ``_fetch_user_teams`` calls the hard-coded
``GET https://api.bitbucket.org/2.0/workspaces?role=member``, follows ``next``, and
collects each workspace's ``name``, its *display name*. Two problems:

- Atlassian removed that cross-workspace endpoint (CHANGE-2770, removal scheduled for
  2026-02-27; it now answers 410 Gone). Its replacement is ``GET /2.0/user/workspaces``
  (CHANGE-3022), which returns ``workspace_access`` objects, not workspaces.
- Display names are neither unique nor chosen by the hub's operator: anyone can create a
  workspace called "Data Lab". Only the workspace ID (slug, as in
  ``https://bitbucket.org/<slug>/``) identifies a workspace.

This subclass therefore lists the caller's workspaces with ``GET /2.0/user/workspaces``,
follows its pagination, and admits members of ``allowed_workspaces`` by slug only. It
also takes every Bitbucket address from two settings (``bitbucket_url``, ``api_url``),
so that a proxy, or the fake Bitbucket in tests/, can stand in for Bitbucket; the parent
class hard-codes the workspace URL. ``allowed_teams`` is refused.

Bitbucket Cloud documentation followed (read 2026-06):

- OAuth 2.0 endpoints ``https://bitbucket.org/site/oauth2/authorize`` and
  ``.../site/oauth2/access_token``, authorization code grant:
  https://developer.atlassian.com/cloud/bitbucket/oauth-2/
- ``GET /2.0/user`` (scope ``account``):
  https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-get
- ``GET /2.0/user/workspaces`` (scope ``account``; paginated ``workspace_access``
  objects: ``administrator``, ``workspace.slug``, ``workspace.uuid``):
  https://developer.atlassian.com/cloud/bitbucket/rest/api-group-workspaces/#api-user-workspaces-get
- Pagination (``values``, ``pagelen`` up to 100, ``next`` until the last page):
  https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination
- The removal and its replacement:
  https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770 and
  https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-3022
- The same as a machine-readable spec (paths ``/user``, ``/user/workspaces``, schema
  ``paginated_workspace_access``): https://dac-static.atlassian.com/cloud/bitbucket/swagger.v3.json
"""

from urllib.parse import urlencode, urlsplit

from oauthenticator.bitbucket import BitbucketOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler
from tornado import web
from traitlets import Set, TraitError, Unicode, default, validate

# Bitbucket's largest page; a generous cap on pages guards against a `next` loop.
WORKSPACES_PAGE_LENGTH = 100
WORKSPACES_MAX_PAGES = 50


class CallbackHandler(OAuthCallbackHandler):
    """The OAuth callback; its refusal page gets a short title above the explanation."""

    async def get(self):
        try:
            await super().get()
        except web.HTTPError as error:
            if error.status_code == 403 and not error.reason:
                raise web.HTTPError(403, error.log_message,
                                    reason="Not allowed on this edahub") from None
            raise


class EdahubBitbucketOAuthenticator(BitbucketOAuthenticator):
    """Bitbucket OAuth with a workspace allowlist by slug, on GET /2.0/user/workspaces."""

    callback_handler = CallbackHandler

    bitbucket_url = Unicode(
        "https://bitbucket.org",
        config=True,
        help="Bitbucket's web address: /site/oauth2/authorize and /site/oauth2/access_token.",
    )
    api_url = Unicode(
        "https://api.bitbucket.org",
        config=True,
        help="Bitbucket's REST API address: /2.0/user and /2.0/user/workspaces.",
    )
    allowed_workspaces = Set(
        Unicode(),
        config=True,
        help="Workspace IDs (slugs) whose members may log in. Never display names.",
    )

    @default("authorize_url")
    def _authorize_url_default(self):
        return f"{self.bitbucket_url}/site/oauth2/authorize"

    @default("token_url")
    def _token_url_default(self):
        return f"{self.bitbucket_url}/site/oauth2/access_token"

    @default("userdata_url")
    def _userdata_url_default(self):
        return f"{self.api_url}/2.0/user"

    @validate("allowed_teams")
    def _refuse_allowed_teams(self, proposal):
        if proposal.value:
            raise TraitError(
                "allowed_teams matches workspace display names through GET /2.0/workspaces, "
                "which Bitbucket removed (CHANGE-2770); use allowed_workspaces (slugs)"
            )
        return proposal.value

    async def update_auth_model(self, auth_model):
        """Record the slugs of the caller's workspaces when a workspace rule needs them.

        Replaces the parent's method, which would call the removed GET /2.0/workspaces.
        """
        if self.allowed_workspaces:
            token = auth_model["auth_state"]["token_response"]
            slugs = await self.fetch_workspace_slugs(token["access_token"], token["token_type"])
            auth_model["auth_state"]["workspace_slugs"] = sorted(slugs)
        return auth_model

    async def fetch_workspace_slugs(self, access_token, token_type):
        """The slugs of every workspace the token's user can access, from all pages."""
        headers = self.build_userdata_request_headers(access_token, token_type)
        url = f"{self.api_url}/2.0/user/workspaces?{urlencode({'pagelen': WORKSPACES_PAGE_LENGTH})}"
        api = urlsplit(self.api_url)
        slugs = set()
        for _ in range(WORKSPACES_MAX_PAGES):
            page = await self.httpfetch(
                url, label="fetching the user's Bitbucket workspaces", method="GET",
                headers=headers, validate_cert=self.validate_server_cert,
            )
            for access in page.get("values", []):
                slug = (access.get("workspace") or {}).get("slug")
                if slug:
                    slugs.add(slug)
            url = page.get("next")
            if not url:
                return slugs
            # The token goes only to the API it was meant for, whatever `next` says.
            following = urlsplit(url)
            if (following.scheme, following.netloc) != (api.scheme, api.netloc):
                self.log.warning("Ignoring a workspaces page outside %s: %s", self.api_url, url)
                return slugs
        self.log.warning("Stopped after %d pages of workspaces", WORKSPACES_MAX_PAGES)
        return slugs

    async def check_allowed(self, username, auth_model):
        """Allowed by the parent's rules (allow_all, admin, allowed_users) or a workspace."""
        if await super().check_allowed(username, auth_model):
            return True
        if self.allowed_workspaces and auth_model:
            member_of = set(auth_model["auth_state"].get("workspace_slugs", []))
            matched = sorted(member_of & self.allowed_workspaces)
            if matched:
                self.log.info("Allowing %s as a member of workspace(s) %s", username, matched)
                return True
        self.log.info("Refusing %s: not in any allow rule", username)
        return False
