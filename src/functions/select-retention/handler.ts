export const handler = async (event: { keep: number }) => ({ keep: event.keep });
