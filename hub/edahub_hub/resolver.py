"""A name resolver for the hub's HTTP client that looks every name up afresh.

On a swarm the hub reaches users' servers by their service's name, and a server started
again has a new address under the same name. aiohttp resolves through c-ares when aiodns
is installed (it is, in the hub's image), and c-ares keeps answers for their TTL (Docker's
DNS gives 600 s); aiohttp keeps its own cache as well (aio-libs/aiohttp#1914). Either way
the hub checked a restarted server at its old address and it never became ready (found on
the test swarm). This one asks the system's resolver (getaddrinfo) each time, as the
proxy does.
"""

import asyncio
import socket

from aiohttp.abc import AbstractResolver


class FreshLookups(AbstractResolver):
    async def resolve(self, host, port=0, family=socket.AF_INET):
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family)
        return [{"hostname": host, "host": address[0], "port": address[1], "family": fam,
                 "proto": proto, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for fam, _, proto, _, address in infos]

    async def close(self):
        pass
