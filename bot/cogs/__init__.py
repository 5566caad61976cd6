"""Discord extensions, one feature per module; each ends with `async def setup(bot)`."""
