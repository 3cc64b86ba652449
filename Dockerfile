# winnow serve in a container, in the shape SageMaker expects: port 8080, /invocations and /ping, and `serve` as
# the command (SageMaker runs `docker run <image> serve`; the model is mounted at /opt/ml/model).
#   docker build -t winnow .
#   docker run -p 8080:8080 -v /path/to/model:/opt/ml/model winnow serve
# Other models: `winnow serve NAME=DIR ...` as the command, or WINNOW_MODELS="NAME=DIR ...".
FROM node:20-bookworm-slim
ARG WINNOW_VERSION=0.1.0
WORKDIR /opt/winnow
# The platform package (addon + ONNX Runtime) comes as winnow-native's optional dependency for this image's arch.
RUN npm install --omit=dev --no-audit --no-fund "winnow-native@${WINNOW_VERSION}" && npm cache clean --force
ENV PATH=/opt/winnow/node_modules/.bin:$PATH \
    NODE_ENV=production \
    PORT=8080
EXPOSE 8080
# Runs as the image's unprivileged user; SIGTERM (docker stop) drains accepted requests, then exits.
USER node
ENTRYPOINT ["winnow"]
CMD ["serve"]
