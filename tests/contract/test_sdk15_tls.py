"""The official Python azure-batch 15.x SDK signed in with an Entra ID bearer token against
`repool sim --tls`, unchanged: azure-core sends bearer tokens only over https, so the token comes
from the simulator's token endpoint and the certificate is verified against the CA it wrote
(REQUESTS_CA_BUNDLE, as an operator would set it)."""
import json
import os
import ssl
import time
import urllib.parse
import urllib.request

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core import MatchConditions
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ServiceRequestError

URL, CA = os.environ["SIM_TLS_URL"], os.environ["REQUESTS_CA_BUNDLE"]
SCOPE = "https://batch.core.windows.net//.default"


class TokenFromEndpoint:
    """A TokenCredential taking its tokens from the simulator's client-credentials endpoint."""

    def __init__(self, token=None):
        self.token, self.scopes = token, []

    def get_token(self, *scopes, **kwargs):
        self.scopes.extend(scopes)
        if self.token is None:
            form = urllib.parse.urlencode(
                {"grant_type": "client_credentials", "client_id": "app-1", "client_secret": "s3cret", "scope": scopes[0]}
            ).encode()
            context = ssl.create_default_context(cafile=CA)
            with urllib.request.urlopen(f"{URL}/tenant-1/oauth2/v2.0/token", form, context=context) as answer:
                self.token = json.load(answer)["access_token"]
        return AccessToken(self.token, int(time.time()) + 3600)


def test_bearer_token_over_tls_lists_and_reads_pools():
    credential = TokenFromEndpoint()
    client = BatchClient(URL, credential)
    ids = [p.id for p in client.list_pools()]
    assert "p-render" in ids and len(ids) == 12
    assert client.get_pool("p-render").id == "p-render"
    assert credential.scopes and credential.scopes[0] == SCOPE


def test_bearer_token_over_tls_changes_a_pool():
    client = BatchClient(URL, TokenFromEndpoint())
    client.create_pool(m.BatchPoolCreateOptions(id="tls-pool", vm_size="standard_d2s_v3", virtual_machine_configuration=m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
        node_agent_sku_id="batch.node.ubuntu 24.04",
    ), target_dedicated_nodes=0))
    current = client.get_pool("tls-pool")
    client.update_pool("tls-pool", m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="k", value="v")]),
                       etag=current.etag, match_condition=MatchConditions.IfNotModified)
    assert [(i.name, i.value) for i in client.get_pool("tls-pool").metadata] == [("k", "v")]
    client.begin_delete_pool("tls-pool", polling_interval=0.2).result()
    assert "tls-pool" not in [p.id for p in client.list_pools()]


def test_a_token_the_endpoint_never_issued_is_refused():
    with pytest.raises(HttpResponseError) as refused:
        list(BatchClient(URL, TokenFromEndpoint("made-up")).list_pools())
    assert refused.value.status_code == 403
    assert refused.value.response.json()["code"] == "AuthenticationFailed"


def test_the_certificate_is_verified(monkeypatch):
    """Without the simulator's CA (the system's roots only) the SDK refuses the connection."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(ServiceRequestError):
        list(BatchClient(URL, TokenFromEndpoint("any")).list_pools())
