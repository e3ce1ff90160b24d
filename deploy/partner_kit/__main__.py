"""`python -m partner_kit`: run the consumer (consumer.py) until SIGINT or SIGTERM."""

import asyncio

from .consumer import main

if __name__ == "__main__":
    asyncio.run(main())
